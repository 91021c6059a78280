"""The adapter for Anthropic's Messages API: chat requests translated, Messages passed through
(with the `anthropic-beta` values the relay lets through), token counts passed through."""

import secrets
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from gatewayz.protocols import anthropic
from gatewayz.protocols.anthropic.betas import HEADER as BETA_HEADER
from gatewayz.protocols.anthropic.json_mode import json_tool
from gatewayz.protocols.fields import Dropped
from gatewayz.providers.base import UpstreamReply
from gatewayz.providers.http import open_stream, post_json
from gatewayz.providers.sse import Chunk, Event, SSEStream, TranslatedStream
from gatewayz.providers.table import Provider

API_VERSION = "2023-06-01"


def _is_last(event: Event) -> bool:
    return event[0] == "message_stop"


class AnthropicAdapter:
    def __init__(self, session: aiohttp.ClientSession, default_max_tokens: int) -> None:
        self._session = session
        self._default_max_tokens = default_max_tokens

    def _headers(self, provider: Provider, betas: Sequence[str] = ()) -> dict[str, str]:
        fixed = provider.spec.headers
        headers = {} if "anthropic-version" in fixed else {"anthropic-version": API_VERSION}
        if betas:  # beside the provider row's own, if it has some
            own = [b.strip() for b in fixed.get(BETA_HEADER, "").split(",") if b.strip()]
            headers[BETA_HEADER] = ",".join(dict.fromkeys([*own, *betas]))
        return headers

    async def messages(
        self, provider: Provider, body: dict[str, Any], betas: Sequence[str] = ()
    ) -> UpstreamReply:
        """A Messages request passed through as it is."""
        raw, data = await post_json(
            self._session,
            provider,
            f"{provider.base_url}/messages",
            body,
            self._headers(provider, betas),
        )
        return UpstreamReply(raw, data)

    async def messages_stream(
        self, provider: Provider, body: dict[str, Any], betas: Sequence[str] = ()
    ) -> SSEStream:
        return await open_stream(
            self._session,
            provider,
            f"{provider.base_url}/messages",
            body,
            self._headers(provider, betas),
            is_last=_is_last,
        )

    async def count_tokens(
        self, provider: Provider, body: dict[str, Any], betas: Sequence[str] = ()
    ) -> UpstreamReply:
        """A token count request passed through as it is (Anthropic does not charge for it)."""
        raw, data = await post_json(
            self._session,
            provider,
            f"{provider.base_url}/messages/count_tokens",
            body,
            self._headers(provider, betas),
        )
        return UpstreamReply(raw, data)

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply:
        request = anthropic.chat_to_messages_request(
            body, body["model"], self._default_max_tokens, dropped
        )
        request.pop("stream", None)
        reply = await self.messages(provider, request)
        chat = anthropic.messages_to_chat_response(reply.data, body["model"], json_tool(body))
        return UpstreamReply(orjson.dumps(chat), chat)

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> TranslatedStream:
        request = anthropic.chat_to_messages_request(
            body, body["model"], self._default_max_tokens, dropped
        )
        request["stream"] = True
        source = await self.messages_stream(provider, request)
        translator = anthropic.MessagesStreamToChat(
            body["model"],
            "chatcmpl-" + secrets.token_hex(12),
            include_usage=True,
            json_tool=json_tool(body),
        )

        def translate(event: Event) -> list[Chunk]:
            return translator.feed(event[0] or "", orjson.loads(event[1]))

        return TranslatedStream(source, translate, lambda: [])

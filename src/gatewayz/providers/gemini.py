"""The adapter for Google's Gemini API (generateContent / streamGenerateContent)."""

import secrets
from typing import Any

import aiohttp
import orjson

from gatewayz.protocols import gemini
from gatewayz.protocols.fields import Dropped
from gatewayz.providers.base import UpstreamReply
from gatewayz.providers.google_tokens import GoogleTokens
from gatewayz.providers.http import open_stream, post_json
from gatewayz.providers.sse import Chunk, Event, SSEStream, TranslatedStream
from gatewayz.providers.table import Provider


def _is_last(event: Event) -> bool:
    return b'"finishReason"' in event[1]


class GeminiAdapter:
    """Chat requests translated to Gemini and back; the API version is part of base_url.

    Serves Vertex AI too: an `auth: google` provider's requests carry an OAuth bearer token.
    """

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._tokens = GoogleTokens(session)

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply:
        request = gemini.chat_to_gemini_request(body, dropped)
        _, data = await post_json(
            self._session,
            provider,
            f"{provider.base_url}/models/{body['model']}:generateContent",
            request,
            await self._tokens.headers(provider),
        )
        single = body.get("parallel_tool_calls") is False
        chat = gemini.gemini_to_chat_response(data, body["model"], single_call=single)
        return UpstreamReply(orjson.dumps(chat), chat)

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> TranslatedStream:
        request = gemini.chat_to_gemini_request(body, dropped)
        source = await open_stream(
            self._session,
            provider,
            f"{provider.base_url}/models/{body['model']}:streamGenerateContent?alt=sse",
            request,
            await self._tokens.headers(provider),
            is_last=_is_last,
        )
        translator = gemini.GeminiStreamToChat(
            body["model"],
            "chatcmpl-" + secrets.token_hex(12),
            include_usage=True,
            single_call=body.get("parallel_tool_calls") is False,
        )

        def translate(event: Event) -> list[Chunk]:
            return translator.feed(orjson.loads(event[1]))

        return TranslatedStream(source, translate, translator.finish)

    async def generate(self, provider: Provider, model: str, body: dict[str, Any]) -> UpstreamReply:
        """A Gemini client's GenerateContentRequest passed through (see
        protocols.gemini.passthrough)."""
        raw, data = await post_json(
            self._session,
            provider,
            f"{provider.base_url}/models/{model}:generateContent",
            body,
            await self._tokens.headers(provider),
        )
        return UpstreamReply(raw, data)

    async def generate_stream(
        self, provider: Provider, model: str, body: dict[str, Any]
    ) -> SSEStream:
        """streamGenerateContent of a Gemini client's request, its events as they come."""
        return await open_stream(
            self._session,
            provider,
            f"{provider.base_url}/models/{model}:streamGenerateContent?alt=sse",
            body,
            await self._tokens.headers(provider),
            is_last=_is_last,
        )

    async def count_tokens(
        self, provider: Provider, model: str, body: dict[str, Any]
    ) -> UpstreamReply:
        """countTokens (free at Google) for a request's contents."""
        raw, data = await post_json(
            self._session,
            provider,
            f"{provider.base_url}/models/{model}:countTokens",
            body,
            await self._tokens.headers(provider),
        )
        return UpstreamReply(raw, data)

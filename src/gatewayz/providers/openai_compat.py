"""The adapter for every upstream that speaks the OpenAI wire format."""

from typing import Any

import aiohttp

from gatewayz.errors import UpstreamError
from gatewayz.protocols.fields import Dropped
from gatewayz.providers.base import UpstreamReply
from gatewayz.providers.http import open_stream, post_json
from gatewayz.providers.sse import SSEStream
from gatewayz.providers.table import Provider

_RESPONSE_END = frozenset({"response.completed", "response.failed", "response.incomplete"})


class OpenAICompatAdapter:
    """Chat completions, text completions, Responses, embeddings and images at
    `{base_url}/...`, one session."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply:
        raw, data = await post_json(
            self._session, provider, f"{provider.base_url}/chat/completions", body
        )
        if "choices" not in data:
            raise UpstreamError(provider.name, "answered without choices")
        return UpstreamReply(raw, data)

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> SSEStream:
        return await open_stream(
            self._session, provider, f"{provider.base_url}/chat/completions", body
        )

    async def completions(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply:
        """Legacy text completions, passed through."""
        raw, data = await post_json(
            self._session, provider, f"{provider.base_url}/completions", body
        )
        if "choices" not in data:
            raise UpstreamError(provider.name, "answered without choices")
        return UpstreamReply(raw, data)

    async def completions_stream(self, provider: Provider, body: dict[str, Any]) -> SSEStream:
        return await open_stream(self._session, provider, f"{provider.base_url}/completions", body)

    async def responses(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply:
        """The Responses API, passed through to a provider that serves it natively."""
        raw, data = await post_json(self._session, provider, f"{provider.base_url}/responses", body)
        return UpstreamReply(raw, data)

    async def responses_stream(self, provider: Provider, body: dict[str, Any]) -> SSEStream:
        return await open_stream(
            self._session,
            provider,
            f"{provider.base_url}/responses",
            body,
            is_last=lambda event: event[0] in _RESPONSE_END,
        )

    async def embeddings(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply:
        raw, data = await post_json(
            self._session, provider, f"{provider.base_url}/embeddings", body
        )
        if not isinstance(data.get("data"), list):
            raise UpstreamError(provider.name, "answered without embeddings")
        return UpstreamReply(raw, data)

    async def images(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply:
        raw, data = await post_json(
            self._session, provider, f"{provider.base_url}/images/generations", body
        )
        if not isinstance(data.get("data"), list):
            raise UpstreamError(provider.name, "answered without images")
        return UpstreamReply(raw, data)

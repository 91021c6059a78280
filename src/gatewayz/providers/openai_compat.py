"""The adapter for every upstream that speaks the OpenAI wire format."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from gatewayz.errors import UpstreamError
from gatewayz.providers.base import UpstreamReply
from gatewayz.providers.http_errors import mapped_transport_errors, status_error
from gatewayz.providers.table import Provider

_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_SSE = {"Content-Type": "application/json", "Accept": "text/event-stream"}


class OpenAICompatAdapter:
    """Chat completions against `{base_url}/chat/completions`, over one pooled session."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def chat(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply:
        with mapped_transport_errors(provider.name):
            async with self._session.post(
                f"{provider.base_url}/chat/completions",
                data=orjson.dumps(body),
                headers={**_JSON, **provider.request_headers()},
                timeout=_timeout(provider, stream=False),
            ) as response:
                raw = await response.read()
                if response.status != 200:
                    raise status_error(
                        provider.name, response.status, raw, response.headers.get("Retry-After")
                    )
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError(provider.name, "answered with a body that is not JSON") from None
        if not isinstance(data, dict) or "choices" not in data:
            raise UpstreamError(provider.name, "answered without choices")
        return UpstreamReply(raw, data)

    async def chat_stream(self, provider: Provider, body: dict[str, Any]) -> "SSEStream":
        with mapped_transport_errors(provider.name):
            response = await self._session.post(
                f"{provider.base_url}/chat/completions",
                data=orjson.dumps(body),
                headers={**_SSE, **provider.request_headers()},
                timeout=_timeout(provider, stream=True),
            )
            if response.status != 200:
                try:
                    raw = await response.read()
                finally:
                    response.release()
                raise status_error(
                    provider.name, response.status, raw, response.headers.get("Retry-After")
                )
        return SSEStream(provider.name, response)


class SSEStream:
    """The `data` payloads of an OpenAI-style event stream, ending at `[DONE]`.

    An upstream that closes the stream without `[DONE]` raises UpstreamError.
    """

    def __init__(self, provider: str, response: aiohttp.ClientResponse) -> None:
        self._provider = provider
        self._response = response
        self._complete = False
        self._iterator = self._events()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterator

    async def __anext__(self) -> bytes:
        return await anext(self._iterator)

    async def _events(self) -> AsyncIterator[bytes]:
        data: list[bytes] = []
        with mapped_transport_errors(self._provider):
            async for raw_line in self._response.content:
                line = raw_line.rstrip(b"\r\n")
                if line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                elif not line and data:
                    payload = b"\n".join(data)
                    data = []
                    if payload == b"[DONE]":
                        self._complete = True
                        return
                    yield payload
        if data == [b"[DONE]"]:
            self._complete = True
            return
        raise UpstreamError(self._provider, "ended the stream before it was complete")

    async def aclose(self) -> None:
        """Return the connection to the pool after a complete stream, else drop it."""
        if self._complete and not self._response.content.at_eof():
            try:
                async with asyncio.timeout(2):
                    await self._response.content.read()
            except (aiohttp.ClientError, TimeoutError):
                self._complete = False
        if self._complete:
            self._response.release()
        else:
            self._response.close()


def _timeout(provider: Provider, *, stream: bool) -> aiohttp.ClientTimeout:
    """Connect and total limits; a stream also may not stall longer than the idle limit."""
    spec = provider.spec
    return aiohttp.ClientTimeout(
        total=spec.timeout_seconds,
        sock_connect=spec.connect_timeout_seconds,
        sock_read=spec.idle_timeout_seconds if stream else None,
    )

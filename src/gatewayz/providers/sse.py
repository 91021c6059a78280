"""Server-sent events from an upstream: (event name, data) pairs, as they arrive."""

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp

from gatewayz.errors import UpstreamError
from gatewayz.providers.http_errors import mapped_transport_errors

Event = tuple[str | None, bytes]


class SSEStream:
    """Events of one upstream response; iterate it once, then `aclose`.

    `is_last(event)` tells which event ends a complete stream (e.g. OpenAI's `[DONE]`,
    Anthropic's `message_stop`); the connection closing before it raises UpstreamError.
    A `[DONE]` data line is consumed, never yielded.
    """

    def __init__(
        self,
        provider: str,
        response: aiohttp.ClientResponse,
        is_last: Callable[[Event], bool] | None = None,
    ) -> None:
        self._provider = provider
        self._response = response
        self._is_last = is_last
        self._complete = False
        self._iterator = self._events()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterator

    async def __anext__(self) -> Event:
        return await anext(self._iterator)

    async def _events(self) -> AsyncIterator[Event]:
        name: str | None = None
        data: list[bytes] = []
        with mapped_transport_errors(self._provider):
            async for raw_line in self._response.content:
                line = raw_line.rstrip(b"\r\n")
                if line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                elif line.startswith(b"event:"):
                    name = line[6:].strip().decode("utf-8", "replace")
                elif not line and data:
                    event = (name, b"\n".join(data))
                    name, data = None, []
                    if event[1] == b"[DONE]":
                        self._complete = True
                        return
                    yield event
                    if self._is_last is not None and self._is_last(event):
                        self._complete = True
                        return
        if data == [b"[DONE]"]:
            self._complete = True
            return
        if data:
            event = (name, b"\n".join(data))
            yield event
            if self._is_last is not None and self._is_last(event):
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


class TranslatedStream:
    """Another stream's events turned into OpenAI chat chunks (event name None).

    `translate` maps one upstream event to the chunks it yields; `finish` gives the chunks
    that close a complete stream.
    """

    def __init__(
        self,
        source: SSEStream,
        translate: Callable[[Event], list[bytes]],
        finish: Callable[[], list[bytes]],
    ) -> None:
        self._source = source
        self._translate = translate
        self._finish = finish
        self._iterator = self._events()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterator

    async def __anext__(self) -> Event:
        return await anext(self._iterator)

    async def _events(self) -> AsyncIterator[Event]:
        async for event in self._source:
            for chunk in self._translate(event):
                yield None, chunk
        for chunk in self._finish():
            yield None, chunk

    async def aclose(self) -> None:
        await self._source.aclose()

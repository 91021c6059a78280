"""Server-sent events from an upstream, in batches: every complete event that has arrived.

Reading whatever bytes are available and handing over all the events in them at once keeps
a fast upstream's burst of events to one await and one write to the client, while a slow
upstream's events still go out one by one, the moment each arrives.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from gatewayz.errors import UpstreamError
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.providers.http_errors import mapped_transport_errors

Event = tuple[str | None, bytes]
"""One server-sent event as it came: its name (None: unnamed) and its data."""
Batch = list[Event]
Chunk = dict[str, Any]
"""A chat.completion.chunk, decoded: what a stream translated from another format yields, so
that it is decoded and encoded once on its way to the client."""


def parse_events(buffer: bytes) -> tuple[Batch, bytes]:
    """The complete events at the start of `buffer`, and the bytes left over."""
    events: Batch = []
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            return events, buffer
        block, buffer = buffer[:end], buffer[end + 2 :]
        name: str | None = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
        if data:
            events.append((name, b"\n".join(data)))


class SSEStream:
    """Batches of events of one upstream response; iterate it once, then `aclose`.

    `is_last(event)` tells which event ends a complete stream (e.g. Anthropic's
    `message_stop`); OpenAI's `[DONE]` always does and is consumed, never yielded. The
    connection closing before the end raises UpstreamError.
    """

    def __init__(
        self,
        provider: str,
        response: aiohttp.ClientResponse,
        is_last: Callable[[Event], bool] | None = None,
    ) -> None:
        self._provider = provider
        self.provider = provider
        self._response = response
        self._is_last = is_last
        self._complete = False
        self._iterator = self._batches()

    def __aiter__(self) -> AsyncIterator[Batch]:
        return self._iterator

    async def __anext__(self) -> Batch:
        return await anext(self._iterator)

    async def _batches(self) -> AsyncIterator[Batch]:
        buffer = b""
        with mapped_transport_errors(self._provider):
            async for chunk in self._response.content.iter_any():
                buffer += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
                events, buffer = parse_events(buffer)
                batch = self._until_end(events)
                if batch:
                    yield batch
                if self._complete:
                    return
        events, _ = parse_events(buffer.rstrip(b"\n") + b"\n\n")
        batch = self._until_end(events)
        if batch:
            yield batch
        if not self._complete:
            raise UpstreamError(self._provider, "ended the stream before it was complete")

    def _until_end(self, events: Batch) -> Batch:
        """The events up to the end of the stream, noting when it has ended."""
        for index, event in enumerate(events):
            if event[1] == b"[DONE]":
                self._complete = True
                return events[:index]
            if self._is_last is not None and self._is_last(event):
                self._complete = True
                return events[: index + 1]
        return events

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
    """Another stream's events turned into OpenAI chat chunks, in batches, decoded.

    `translate` maps one upstream event to the chunks it yields; `finish` gives the chunks
    that close a complete stream.
    """

    def __init__(
        self,
        source: SSEStream,
        translate: Callable[[Event], list[Chunk]],
        finish: Callable[[], list[Chunk]],
    ) -> None:
        self._source = source
        self._translate = translate
        self._finish = finish
        self._iterator = self._batches()

    def __aiter__(self) -> AsyncIterator[list[Chunk]]:
        return self._iterator

    async def __anext__(self) -> list[Chunk]:
        return await anext(self._iterator)

    async def _batches(self) -> AsyncIterator[list[Chunk]]:
        async for batch in self._source:
            out: list[Chunk] = []
            try:
                for event in batch:
                    out.extend(self._translate(event))
            except (UpstreamStreamError, ValueError) as exc:
                # The chunks before the fault still go out, then the fault, named after the
                # provider, as the relay expects of any upstream failure mid-stream.
                if out:
                    yield out
                message = (
                    exc.message
                    if isinstance(exc, UpstreamStreamError)
                    else "sent a malformed stream event"
                )
                raise UpstreamError(self._source.provider, message) from None
            if out:
                yield out
        tail = self._finish()
        if tail:
            yield tail

    async def aclose(self) -> None:
        await self._source.aclose()

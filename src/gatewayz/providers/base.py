"""What adapters answer with: a complete reply, or a stream of upstream events (see
providers.capabilities for what each adapter serves)."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gatewayz.providers.sse import Chunk, Event


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A complete (non-streamed) answer: the bytes to return and their decoded form."""

    body: bytes
    data: dict[str, Any]


class EventStream(Protocol):
    """Batches of upstream events, each batch everything that arrived together: events as
    they came, or chat chunks decoded from another format's (see providers.sse)."""

    def __aiter__(self) -> AsyncIterator[Sequence[Event | Chunk]]: ...

    async def __anext__(self) -> Sequence[Event | Chunk]: ...

    async def aclose(self) -> None: ...

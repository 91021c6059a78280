"""What adapters answer with: a complete reply, or a stream of upstream events (see
providers.capabilities for what each adapter serves)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from gatewayz.providers.sse import Batch


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A complete (non-streamed) answer: the bytes to return and their decoded form."""

    body: bytes
    data: dict[str, Any]


class EventStream(Protocol):
    """Batches of upstream events, each batch everything that arrived together."""

    def __aiter__(self) -> AsyncIterator[Batch]: ...

    async def __anext__(self) -> Batch: ...

    async def aclose(self) -> None: ...

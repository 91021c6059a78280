"""What every wire-protocol adapter offers the relay."""

from dataclasses import dataclass
from typing import Any, Protocol

from gatewayz.protocols.fields import Dropped
from gatewayz.providers.sse import Batch
from gatewayz.providers.table import Provider


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A complete (non-streamed) answer: the bytes to return and their decoded form."""

    body: bytes
    data: dict[str, Any]


class EventStream(Protocol):
    """Batches of upstream events, each batch everything that arrived together."""

    def __aiter__(self) -> "EventStream": ...

    async def __anext__(self) -> Batch: ...

    async def aclose(self) -> None: ...


class ChatAdapter(Protocol):
    """Serves OpenAI-format chat requests from a provider in its own wire format.

    `chat` answers a chat.completion, `chat_stream` yields chat.completion.chunk events. An
    adapter that translates the request into its upstream's format notes in `dropped` the
    fields it leaves out (see protocols.fields).
    Both raise gatewayz.errors.UpstreamError, naming the provider, when the upstream cannot
    be reached, refuses, or answers with something unusable. Adapters may offer more
    (native Messages or Responses passthrough, embeddings, images).
    """

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply: ...

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> EventStream: ...

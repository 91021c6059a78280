"""The interface every wire-protocol adapter implements."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from gatewayz.providers.table import Provider


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A complete (non-streamed) answer: the bytes to return and their decoded form."""

    body: bytes
    data: dict[str, Any]


class UpstreamStream(Protocol):
    """An open streamed answer: the `data` payload of each event, in order."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class ChatAdapter(Protocol):
    """Sends an OpenAI-format chat request to a provider in its own wire format.

    Both methods raise gatewayz.errors.UpstreamError, naming the provider, when the
    upstream cannot be reached, refuses, or answers with something unusable.
    """

    async def chat(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply: ...

    async def chat_stream(self, provider: Provider, body: dict[str, Any]) -> UpstreamStream: ...

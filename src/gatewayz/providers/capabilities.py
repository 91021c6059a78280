"""What adapters serve, one `typing.Protocol` per capability, and `Adapter`: the capabilities
one wire protocol's adapter offers, which the relay's adapter table holds for each protocol.

Every capability raises gatewayz.errors.UpstreamError, naming the provider, when the upstream
cannot be reached, refuses, or answers with something unusable.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gatewayz.protocols.fields import Dropped
from gatewayz.providers.base import EventStream, UpstreamReply
from gatewayz.providers.catalog import Route
from gatewayz.providers.spec import ModelType
from gatewayz.providers.table import Provider

log = logging.getLogger(__name__)


class ChatAdapter(Protocol):
    """Serves OpenAI-format chat requests from a provider in its own wire format.

    `chat` answers a chat.completion, `chat_stream` yields chat.completion.chunk events. An
    adapter that translates the request into its upstream's format notes in `dropped` the
    fields it leaves out (see protocols.fields).
    """

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply: ...

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> EventStream: ...


class EmbeddingsAdapter(Protocol):
    """OpenAI-format embeddings requests, answered in OpenAI's format."""

    async def embeddings(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply: ...


class ImagesAdapter(Protocol):
    """OpenAI-format image generation requests, answered in OpenAI's format."""

    async def images(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply: ...


class CompletionsAdapter(Protocol):
    """OpenAI legacy text completions, passed through."""

    async def completions(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply: ...

    async def completions_stream(self, provider: Provider, body: dict[str, Any]) -> EventStream: ...


class ResponsesPassthrough(Protocol):
    """The OpenAI Responses API, passed through to a provider that serves it natively."""

    async def responses(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply: ...

    async def responses_stream(self, provider: Provider, body: dict[str, Any]) -> EventStream: ...


class MessagesPassthrough(Protocol):
    """Anthropic Messages and their token counts, passed through with the `anthropic-beta`
    values the relay lets through."""

    async def messages(
        self, provider: Provider, body: dict[str, Any], betas: Sequence[str] = ()
    ) -> UpstreamReply: ...

    async def messages_stream(
        self, provider: Provider, body: dict[str, Any], betas: Sequence[str] = ()
    ) -> EventStream: ...

    async def count_tokens(
        self, provider: Provider, body: dict[str, Any], betas: Sequence[str] = ()
    ) -> UpstreamReply: ...


class GeminiPassthrough(Protocol):
    """Gemini's generateContent, streamGenerateContent and countTokens, passed through."""

    async def generate(
        self, provider: Provider, model: str, body: dict[str, Any]
    ) -> UpstreamReply: ...

    async def generate_stream(
        self, provider: Provider, model: str, body: dict[str, Any]
    ) -> EventStream: ...

    async def count_tokens(
        self, provider: Provider, model: str, body: dict[str, Any]
    ) -> UpstreamReply: ...


@dataclass(frozen=True, slots=True)
class Adapter:
    """What one wire protocol's adapter serves, capability by capability (None: not at all).

    `messages`, `responses` and `gemini` pass a client's own format through to upstreams that
    speak it natively.
    """

    chat: ChatAdapter | None = None
    embeddings: EmbeddingsAdapter | None = None
    images: ImagesAdapter | None = None
    completions: CompletionsAdapter | None = None
    responses: ResponsesPassthrough | None = None
    messages: MessagesPassthrough | None = None
    gemini: GeminiPassthrough | None = None

    def serves(self, kind: ModelType) -> bool:
        """Whether it serves models of the kind."""
        if kind == "chat":
            return self.chat is not None
        if kind == "embeddings":
            return self.embeddings is not None
        return self.images is not None


def log_unserved(routes: Iterable[Route], adapters: Mapping[str, Adapter]) -> None:
    """Name in a log line each route whose provider's adapter does not serve its model's type
    (the relay never plans those)."""
    for route in routes:
        adapter = adapters.get(route.provider.spec.protocol)
        if adapter is None or not adapter.serves(route.model.type):
            log.warning(
                "%s (%s protocol) does not serve %s models: %s is left out",
                route.provider.name,
                route.provider.spec.protocol,
                route.model.type,
                route.public_id,
            )

"""What the relay runs and what it gives back: an exchange (one client request's plan, with
how to serve it on a target: a route, its adapter and output limit), its answer or stream
codec, and the relayed result."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from gatewayz.errors import InvalidRequest, UpstreamError
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.usage import Usage, UsageTally
from gatewayz.providers.base import EventStream
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.outcome import Subscriber
from gatewayz.relay.plan import CallPlan

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete answer in the client's format, the usage to bill for it, and the answer as
    a chat message when the front end keeps one for the call's subscribers (see
    relay.outcome)."""

    body: bytes
    usage: Usage | None
    reply: dict[str, Any] | None = None


class StreamCodec(Protocol):
    """Turns upstream events into the client's stream format, noting in `tally` the usage
    the upstream reports and every piece of generated text that passes (content, reasoning,
    tool names and arguments, refusals), in one place per codec.

    `convert` raises ValueError for an unusable event and UpstreamStreamError for an
    error event from the upstream. Once closed, `reply` is the whole answer as a chat
    message, if the codec keeps one (see Answer.reply); codecs have no side effects.
    """

    tally: UsageTally

    @property
    def reply(self) -> dict[str, Any] | None: ...

    def convert(self, event: Event | Chunk) -> list[bytes]: ...

    def close(self) -> list[bytes]: ...

    def error(self, error: UpstreamError) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Target:
    """Where the relay sends one attempt of a call: the route, the adapter for its provider's
    wire protocol, and the output limit to send upstream (the one held for it)."""

    route: Route
    adapter: Adapter
    output_limit: int

    def needs(self, capability: C | None, what: str) -> C:
        """A capability of the adapter (e.g. `target.adapter.images`), or a 400 naming the
        provider when its adapter does not serve `what`."""
        if capability is None:
            provider = self.route.provider
            raise InvalidRequest(
                f"Provider '{provider.name}' ({provider.spec.protocol} protocol) "
                f"does not serve {what}.",
                param="model",
            )
        return capability


@dataclass(slots=True)
class Exchange:
    """One client request as the relay runs it: its plan, and how to serve it on a route.

    `call` serves it unstreamed on one target, `open` starts a stream on one target. The credit
    hold counts its plan's demand (see billing.worst_case); media calls give their own
    `worst_case` instead.
    """

    plan: CallPlan
    call: Callable[[Target], Awaitable[Answer]] | None = None
    open: Callable[[Target], Awaitable[tuple[EventStream, StreamCodec]]] | None = None
    worst_case: Callable[[Route], int] | None = None
    dropped: Dropped | None = None
    """What the translation for the route last tried left out (see protocols.fields)."""
    serves: Callable[[Route], bool] | None = None
    """Which routes can serve it (None: all); the others are not tried nor held for."""
    subscribers: list[Subscriber] = field(default_factory=list)
    """Who hears how it ended (see relay.outcome)."""

    def subscribe(self, subscriber: Subscriber) -> None:
        """Have `subscriber` told the call's outcome."""
        self.subscribers.append(subscriber)


@dataclass(frozen=True, slots=True)
class Relayed:
    """An answer and where it came from: the provider and the number of attempts."""

    body: bytes
    provider: str
    attempts: int
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class RelayedStream:
    events: AsyncIterator[bytes]
    provider: str
    attempts: int
    headers: dict[str, str]

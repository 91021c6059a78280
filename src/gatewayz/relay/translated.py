"""What the client-API front ends share: event framing, passthrough of a provider's native
events, and the record of what a translation leaves out."""

from collections.abc import Callable
from typing import Any

import orjson

from gatewayz.protocols import openai_chat
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.usage import UsageTally
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.exchange import Exchange


def sse(name: str, data: Any) -> bytes:
    """One named server-sent event."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def chat_chunk(event: Event | Chunk) -> Chunk:
    """A chat chunk, decoded: as a stream translated from another format yields it, or from
    an OpenAI-format upstream's event (see protocols.openai_chat.decode_chunk)."""
    return event if isinstance(event, dict) else openai_chat.decode_chunk(event[1])


def native_event(event: Event | Chunk) -> Event:
    """An event as its upstream sent it, which passthrough codecs forward."""
    if isinstance(event, dict):
        raise ValueError("a translated chunk where the upstream's own event was expected")
    return event


class PassthroughCodec:
    """Forwards a provider's native events unchanged, reading usage and text on the way.

    `inspect(name, data, tally)` notes one event's usage and generated text in `tally` and
    raises UpstreamStreamError for an error event.
    """

    reply: dict[str, Any] | None = None  # keeps no chat reply

    def __init__(
        self,
        inspect: Callable[[str, dict[str, Any], UsageTally], None],
        error_event: Callable[[str], bytes],
    ) -> None:
        self._inspect = inspect
        self._error_event = error_event
        self.tally = UsageTally()

    def convert(self, event: Event | Chunk) -> list[bytes]:
        name, data = native_event(event)
        parsed = orjson.loads(data)
        if not isinstance(parsed, dict):
            raise ValueError("event data is not a JSON object")
        self._inspect(name or str(parsed.get("type") or ""), parsed, self.tally)
        prefix = b"event: " + name.encode() + b"\n" if name else b""
        return [prefix + b"data: " + data + b"\n\n"]

    def close(self) -> list[bytes]:
        return []

    def error(self, error: Any) -> bytes:
        return self._error_event(error.message)


def translation_notes(exchange: Exchange, route: Route) -> Dropped:
    """A fresh record of what translating the exchange for `route` leaves out, kept as the
    exchange's (the answer names it); strict when the route's model or provider says so."""
    strict = route.model.strict_fields
    if strict is None:
        strict = route.provider.spec.strict_fields
    exchange.dropped = Dropped(route.provider.name, strict)
    return exchange.dropped

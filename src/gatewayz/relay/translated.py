"""Stream codecs shared by the client APIs that are not OpenAI chat: event framing, and
passthrough of a provider's native events."""

from collections.abc import Callable
from typing import Any

import orjson

from gatewayz.protocols.usage import UsageTally
from gatewayz.providers.sse import Event
from gatewayz.routing.options import ROUTING_FIELDS


def sse(name: str, data: Any) -> bytes:
    """One named server-sent event."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class PassthroughCodec:
    """Forwards a provider's native events unchanged, reading usage and text on the way.

    `inspect(name, data, tally)` notes one event's usage and generated text in `tally` and
    raises UpstreamStreamError for an error event.
    """

    def __init__(
        self,
        inspect: Callable[[str, dict[str, Any], UsageTally], None],
        error_event: Callable[[str], bytes],
    ) -> None:
        self._inspect = inspect
        self._error_event = error_event
        self.tally = UsageTally()

    def convert(self, event: Event) -> list[bytes]:
        name, data = event
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


def plan_body(body: dict[str, Any]) -> dict[str, Any]:
    """What routing needs from a request in another API's format."""
    plan = {"model": body["model"]}
    plan.update({field: body[field] for field in ROUTING_FIELDS if field in body})
    return plan

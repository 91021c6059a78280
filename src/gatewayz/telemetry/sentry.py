"""Error reporting to Sentry, only when a DSN is configured; events are scrubbed of secrets."""

from typing import TYPE_CHECKING, Any

from gatewayz.telemetry.redact import MASK, redact_all

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)


def init_sentry(dsn: str | None, *, transport: Any = None) -> bool:
    """Start reporting to Sentry if `dsn` is set; whether it was. `transport` is a test seam."""
    if not dsn:
        return False
    import sentry_sdk

    options: dict[str, Any] = {"transport": transport} if transport is not None else {}
    sentry_sdk.init(
        dsn=dsn,
        include_local_variables=False,
        before_send=scrub_event,
        **options,
    )
    return True


def scrub_event(event: "Event", _hint: "Hint") -> "Event":
    """The event without request bodies, cookies or credential headers, and with anything
    key-like masked wherever it appears."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: MASK if name.lower() in _SECRET_HEADERS else value
                for name, value in headers.items()
            }
    scrubbed: Event = redact_all(event)
    return scrubbed

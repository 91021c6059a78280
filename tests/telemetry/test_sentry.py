"""Sentry starts only with a DSN, and what it would send carries no credentials or bodies."""

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from gatewayz.telemetry.sentry import init_sentry

KEY = "gw_live_Q2hlY2tUaGlzS2V5SXNTZWNyZXQ"


class CapturingTransport(Transport):
    """Keeps the events it is given instead of sending them anywhere."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[Any] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


@pytest.fixture
def sentry() -> Iterator[None]:
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_without_a_dsn_sentry_stays_off(sentry: None) -> None:
    assert init_sentry(None) is False
    assert init_sentry("") is False
    assert not sentry_sdk.is_initialized()


def test_with_a_dsn_events_are_sent_scrubbed(sentry: None) -> None:
    assert init_sentry("https://public@sentry.example/1", transport=CapturingTransport)
    assert sentry_sdk.is_initialized()
    sentry_sdk.capture_event(
        {
            "message": f"upstream refused {KEY}",
            "request": {
                "url": "https://gateway.example/v1/chat/completions",
                "headers": {"Authorization": f"Bearer {KEY}", "X-Api-Key": KEY, "Accept": "*/*"},
                "cookies": {"session": "abc"},
                "data": {"messages": [{"role": "user", "content": "my secret prompt"}]},
            },
            "extra": {"provider_key": "sk-proj-Abcdef123456"},
        }
    )
    try:
        raise RuntimeError(f"call failed with key {KEY}")
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush()
    transport = sentry_sdk.get_client().transport
    assert isinstance(transport, CapturingTransport)
    message, exception = transport.events
    request = message["request"]
    assert request["headers"] == {"Authorization": "***", "X-Api-Key": "***", "Accept": "*/*"}
    assert "data" not in request and "cookies" not in request
    assert message["message"] == "upstream refused gw_live_***"
    assert message["extra"]["provider_key"] == "sk-***"
    (error,) = exception["exception"]["values"]
    assert error["value"] == "call failed with key gw_live_***"
    for event in transport.events:
        assert KEY[8:] not in repr(event) and "secret prompt" not in repr(event)

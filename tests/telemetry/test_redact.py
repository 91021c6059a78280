"""Secrets of every kind the gateway handles are masked in logs, errors and traces."""

from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.telemetry.redact import redact, redact_all, redact_keys
from tests.conftest import add_funded_user, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.telemetry.test_tracing import spans_of

# (what a secret looks like, what must be left of it)
SECRETS = [
    ("gw_live_AbC-d_e12345xyz", "gw_live_***"),
    ("gw_test_AbC-d_e12345xyz", "gw_test_***"),
    ("sk_live_51HqLyjWDarjtT1zdp7dc", "sk_live_***"),
    ("sk_test_51HqLyjWDarjtT1zdp7dc", "sk_test_***"),
    ("rk_live_51HqLyjWDarjtT1zdp7dc", "rk_live_***"),
    ("rk_test_51HqLyjWDarjtT1zdp7dc", "rk_test_***"),
    ("whsec_8fD2kL0pQ9sXv3bN", "whsec_***"),
    ("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIza***"),
    ("gsk_4Qk2vZpL8mN1xR7tW3yB", "gsk_***"),
    ("xai-Zk3Lp9Qw2Er5Ty8Ui1Op", "xai-***"),
    ("sk-ant-api03-Zk3Lp9Qw2Er5Ty8", "sk-***"),
    ("sk-or-v1-0a1b2c3d4e5f6a7b8c9d", "sk-***"),
    ("sk-proj-Abc123Def456Ghi789", "sk-***"),
    ("hf_aBcDeFgHiJkLmNoPqRsTuVwX", "hf_***"),
]
IDS = [secret.split("-")[0].split("_")[0] + "_" + str(i) for i, (secret, _) in enumerate(SECRETS)]


@pytest.mark.parametrize(("secret", "kept"), SECRETS, ids=IDS)
def test_every_kind_of_key_is_masked(secret: str, kept: str) -> None:
    assert redact(f"calling with {secret} now") == f"calling with {kept} now"
    assert redact(f"{{'api_key': '{secret}'}}") == "{'api_key': '***'}"
    assert redact_all({"sent": [secret]}) == {"sent": [kept]}
    assert redact_keys(f"upstream said: {secret} is wrong") == f"upstream said: {kept} is wrong"


def test_prose_in_error_messages_is_left_alone() -> None:
    """Errors and spans are masked of key-shaped values only, not of words after "key:"."""
    prose = "Spending limit reached for this API key: this call may cost more; the basic plan"
    assert redact_keys(prose) == prose
    assert redact_keys("sent Authorization: Bearer abc.def-123") == "sent Authorization: Bearer ***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer ***"),
        ("authorization: bearer opaque-token-1", "authorization: bearer ***"),
        ("AUTHORIZATION: BEARER abc.def-123", "AUTHORIZATION: BEARER ***"),
        ("X-API-KEY: plain-secret-1", "X-API-KEY: ***"),
        ("Basıc dXNlcjpwYXNz", "Basıc ***"),  # noqa: RUF001 (dotless i: beyond ASCII)
        ("authorİzation: abcdef12", "authorİzation: ***"),
        ("x-api-key: plain-secret-1", "x-api-key: ***"),
        ('{"x-api-key": "plain-secret-1"}', '{"x-api-key": "***"}'),
        ("[('x-api-key', 'plain-secret-1')]", "[('x-api-key', '***')]"),
        ("[(b'authorization', b'Bearer abc.def-123')]", "[(b'authorization', b'Bearer ***')]"),
        ("x-goog-api-key=plain-secret-1", "x-goog-api-key=***"),
    ],
)
def test_credential_headers_are_masked_however_they_are_written(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "input_tokens=1234 max_tokens: 50 task-12345",
        "Aizawa wrote the AI zany prompt; the xai model; a hf model; risk_level high",
        "skip sk- and gsk_ alone",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(("secret", "kept"), SECRETS, ids=IDS)
async def test_errors_and_traces_never_show_a_key(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    secret: str,
    kept: str,
) -> None:
    """A secret a client puts where the gateway echoes it (an unknown model's name, a path)
    comes back masked in the error, and is masked in the request's span."""
    _, key = await add_funded_user(engine, "careless@example.com", "10")
    exporter = InMemorySpanExporter()
    settings = gateway_settings(database_url, upstream)
    async with serve(settings, span_exporter=exporter) as (base_url, state):
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=20) as http:
            chat = await http.post(
                "/v1/chat/completions",
                json={"model": f"nope/{secret}", "messages": [{"role": "user", "content": "hi"}]},
            )
            listed = await http.get(f"/v1/models/{secret}")
        spans: list[Any] = await spans_of(state, exporter)
    assert chat.status_code == 404 and listed.status_code == 404
    for answer in (chat, listed):
        assert secret not in answer.text
    assert kept in chat.json()["error"]["message"]
    attributes = [str(dict(span.attributes or {})) for span in spans]
    assert attributes and not any(secret in text for text in attributes)

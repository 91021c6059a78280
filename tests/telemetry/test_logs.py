"""Structured logs: JSON lines with the request id, one access line per request, never a key
or prompt text unless prompt logging is on; anything key-like is masked."""

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.telemetry.logs import configure_logging
from gatewayz.telemetry.redact import redact
from tests.conftest import add_funded_user, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CHAT = "/v1/chat/completions"
PROMPT = "please remember the word zanzibar-purple-8812 and sk-proj-Abc123Def456"
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Logging configured as `gatewayz serve` does, into a buffer; call to stop and parse it."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    configure_logging("debug", stream)
    (handler,) = root.handlers

    def lines() -> list[dict[str, Any]]:
        handler.close()  # writes everything queued
        text = stream.getvalue()
        return [orjson.loads(line) for line in text.splitlines()]

    yield lines
    handler.close()
    root.removeHandler(handler)
    root.setLevel(level)


async def call(base_url: str, key: str) -> httpx.Response:
    body = {"model": "fake/fake-model", "messages": [{"role": "user", "content": PROMPT}]}
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        return await client.post(CHAT, json=body, headers={"Authorization": f"Bearer {key}"})


async def test_log_lines_are_json_with_request_ids_and_no_key_or_prompt(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, log_lines: Lines
) -> None:
    user_id, key = await add_funded_user(engine, "logged@example.com", "10")
    (key_info,) = await accounts.list_keys(engine, user_id)
    async with serve(gateway_settings(database_url, upstream)) as (base_url, _):
        answer = await call(base_url, key)
        refused = await call(base_url, key + "x")
    assert answer.status_code == 200 and refused.status_code == 401
    logging.getLogger("tests").warning("upstream said: Authorization: Bearer %s", key)
    logging.getLogger("tests").warning("sent", extra={"sent": {"headers": [f"Bearer {key}"]}})
    try:
        raise RuntimeError(f"failed with {key}")
    except RuntimeError:
        logging.getLogger("tests").exception("it failed")

    lines = log_lines()
    assert lines, "something was logged"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
        text = orjson.dumps(line).decode()
        assert key[8:] not in text, f"a key in the logs: {text}"
        assert "zanzibar" not in text and "Abc123Def456" not in text, f"prompt text: {text}"
    access = {line["request_id"]: line for line in lines if line["logger"] == "gatewayz.access"}
    served = access[answer.headers["x-request-id"]]
    assert served["message"] == f"POST {CHAT} 200"
    assert served["method"] == "POST" and served["path"] == CHAT and served["status"] == 200
    assert served["key_id"] == key_info.id
    assert served["model"] == "fake/fake-model" and served["provider"] == "fake"
    assert served["latency_ms"] > 0
    unknown = access[refused.headers["x-request-id"]]
    assert unknown["status"] == 401 and unknown["key_id"] is None
    masked = [line for line in lines if line["logger"] == "tests"]
    assert masked[0]["message"] == "upstream said: Authorization: Bearer ***"
    assert masked[1]["sent"] == {"headers": ["Bearer ***"]}
    assert masked[2]["message"] == "it failed"
    assert "RuntimeError: failed with gw_live_***" in masked[2]["exception"]


async def test_prompt_logging_when_the_operator_turns_it_on(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, log_lines: Lines
) -> None:
    _, key = await add_funded_user(engine, "prompts@example.com", "10")
    settings = gateway_settings(database_url, upstream, log_prompts=True)
    async with serve(settings) as (base_url, _):
        answer = await call(base_url, key)
        async with httpx.AsyncClient(base_url=base_url) as client:
            assert (await client.get("/health")).status_code == 200
    assert answer.status_code == 200

    logged = [line for line in log_lines() if line["logger"] == "gatewayz.prompts"]
    (line,) = logged  # the relayed call only, not /health
    assert line["level"] == "debug"
    assert line["request_id"] == answer.headers["x-request-id"]
    assert "zanzibar-purple-8812" in line["prompt"]
    assert "sk-***" in line["prompt"] and "Abc123Def456" not in line["prompt"], "keys masked"
    assert "This is a fake reply." in line["answer"]
    assert key[8:] not in orjson.dumps(line).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key gw_live_AbC-d_e12345 used", "key gw_live_*** used"),
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer ***"),
        ("authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***"),
        ("upstream key sk-ant-api03-xyz987654", "upstream key sk-*** "[:-1]),
        ("{'api_key': 'secret-value-1'}", "{'api_key': '***'}"),
        ('"x-api-key": "abcd1234"', '"x-api-key": "***"'),
        ("client_secret=s3cr3tvalue", "client_secret=***"),
        (
            "input_tokens=1234 max_tokens: 50 task-12345",
            "input_tokens=1234 max_tokens: 50 task-12345",
        ),
    ],
)
def test_key_like_values_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


async def test_access_lines_can_be_turned_off(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, log_lines: Lines
) -> None:
    _, key = await add_funded_user(engine, "quiet@example.com", "10")
    settings = gateway_settings(database_url, upstream, access_log=False)
    async with serve(settings) as (base_url, _):
        assert (await call(base_url, key)).status_code == 200
        logging.getLogger("tests").warning("still logging")
    lines = log_lines()
    assert [line["message"] for line in lines if line["logger"] == "tests"] == ["still logging"]
    assert not [line for line in lines if line["logger"] == "gatewayz.access"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _log_once(stream: io.StringIO, log_format: str, colour: bool = True) -> str:
    root = logging.getLogger()
    level = root.level
    configure_logging("info", stream, log_format=log_format, colour=colour)
    (handler,) = root.handlers
    try:
        logging.getLogger("gatewayz.test").warning(
            "upstream %s is slow, key gw_live_abcdefghijklmnop", "groq", extra={"attempts": 3}
        )
    finally:
        handler.close()
        root.removeHandler(handler)
        root.setLevel(level)
    return stream.getvalue()


def test_a_terminal_gets_readable_coloured_lines_without_secrets() -> None:
    text = _log_once(_Terminal(), "auto")
    (line,) = text.splitlines()
    assert line.startswith("\x1b[33m") and "WARNING" in line and "gatewayz.test" in line
    assert "upstream groq is slow" in line and "attempts=3" in line
    assert "gw_live_abcdefghijklmnop" not in line and "***" in line
    assert not line.lstrip("\x1b[0123456789m").startswith("{")


def test_a_pipe_gets_json_lines_and_text_can_be_asked_for_without_colour() -> None:
    (piped,) = _log_once(io.StringIO(), "auto").splitlines()
    assert orjson.loads(piped)["attempts"] == 3
    (plain,) = _log_once(_Terminal(), "text", colour=False).splitlines()
    assert "\x1b[" not in plain and "upstream groq is slow" in plain
    (forced,) = _log_once(_Terminal(), "json").splitlines()
    assert orjson.loads(forced)["level"] == "warning"

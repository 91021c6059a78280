"""The fake Anthropic upstream speaks the Messages API wire format, as the official SDK reads it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from tests.fakes.anthropic_upstream import (
    MODELS,
    TOOL_INPUT,
    TOOL_USE_ID,
    FakeAnthropicUpstream,
    prompt_word_count,
)

API_KEY = "sk-ant-fake"
VERSION = "2023-06-01"
REPLY = "This is a fake reply."
REPLY_WORDS = 5
SYSTEM = "Be brief."
MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
    {"role": "user", "content": [{"type": "text", "text": "What is the weather"}]},
]
PROMPT_TOKENS = 9  # "Be brief." + "Hello there" + "Hi." + "What is the weather"
TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    {"name": "other", "input_schema": {"type": "object"}},
]
TEXT_EVENTS = [
    "message_start",
    "content_block_start",
    "ping",
    *["content_block_delta"] * REPLY_WORDS,
    "content_block_stop",
    "message_delta",
    "message_stop",
]


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[FakeAnthropicUpstream]:
    async with FakeAnthropicUpstream() as up:
        yield up


@pytest.fixture
async def client(upstream: FakeAnthropicUpstream) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"x-api-key": API_KEY, "anthropic-version": VERSION}
    async with httpx.AsyncClient(base_url=upstream.base_url, headers=headers) as http:
        yield http


def request(model: str = "claude-fake", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 256, "system": SYSTEM, "messages": MESSAGES, **extra}


async def read_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """Each SSE event as (event name, decoded data); every event must name itself."""
    events: list[tuple[str, dict[str, Any]]] = []
    name: str | None = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            assert name is not None, "data without an event: line"
            data = orjson.loads(line.removeprefix("data: "))
            assert data["type"] == name
            events.append((name, data))
            name = None
    return events


async def stream_events(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    async with client.stream("POST", "/messages", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"].startswith("req_")
        return await read_events(response)


def assert_error(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    request_id = response.headers["request-id"]
    body = response.json()
    assert body == {
        "type": "error",
        "error": {"type": kind, "message": body["error"]["message"]},
        "request_id": request_id,
    }
    assert body["error"]["message"]
    return body


async def test_message_has_the_documented_shape_and_exact_usage(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/messages", json=request())
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("msg_")
    assert body == {
        "id": body["id"],
        "type": "message",
        "role": "assistant",
        "model": "claude-fake",
        "content": [{"type": "text", "text": REPLY}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": PROMPT_TOKENS,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": REPLY_WORDS,
            "service_tier": "standard",
        },
    }


async def test_bearer_authorization_is_accepted(upstream: FakeAnthropicUpstream) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "anthropic-version": VERSION}
    async with httpx.AsyncClient(base_url=upstream.base_url, headers=headers) as http:
        response = await http.post("/messages", json=request())
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({"anthropic-version": VERSION}, 401, "authentication_error"),
        ({"x-api-key": "wrong", "anthropic-version": VERSION}, 401, "authentication_error"),
        (
            {"Authorization": "Bearer wrong", "anthropic-version": VERSION},
            401,
            "authentication_error",
        ),
        ({"x-api-key": API_KEY}, 400, "invalid_request_error"),
    ],
)
async def test_credentials_and_version_are_required(
    upstream: FakeAnthropicUpstream, headers: dict[str, str], status: int, kind: str
) -> None:
    async with httpx.AsyncClient(base_url=upstream.base_url, headers=headers) as http:
        response = await http.post("/messages", json=request())
    body = assert_error(response, status, kind)
    if status == 400:
        assert "anthropic-version" in body["error"]["message"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "at least one message"),
        ({"messages": None}, "messages"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, "first message"),
        ({"messages": [{"role": "system", "content": "Hi"}]}, "role"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            "alternate",
        ),
    ],
)
async def test_invalid_requests_get_invalid_request_error(
    client: httpx.AsyncClient, change: dict[str, Any], problem: str
) -> None:
    body = {key: value for key, value in {**request(), **change}.items() if value is not None}
    response = await client.post("/messages", json=body)
    assert problem in assert_error(response, 400, "invalid_request_error")["error"]["message"]


async def test_max_tokens_cuts_the_reply(client: httpx.AsyncClient) -> None:
    body = (await client.post("/messages", json=request(max_tokens=2))).json()
    assert body["content"] == [{"type": "text", "text": "This is "}]
    assert body["stop_reason"] == "max_tokens"
    assert body["usage"]["output_tokens"] == 2


async def test_tools_get_a_tool_use_block_for_the_first_tool(client: httpx.AsyncClient) -> None:
    body = (await client.post("/messages", json=request(tools=TOOLS))).json()
    assert body["content"] == [
        {"type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": TOOL_INPUT}
    ]
    assert body["stop_reason"] == "tool_use"
    assert body["usage"]["output_tokens"] == 2
    assert body["usage"]["input_tokens"] == PROMPT_TOKENS


def test_prompt_words_include_system_blocks_and_tool_results() -> None:
    body = {
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t", "name": "w", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "Sunny and warm"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "u",
                        "content": [{"type": "text", "text": "Twenty degrees"}],
                    },
                    {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                ],
            },
        ],
    }
    assert prompt_word_count(body) == 3 + 3 + 1 + 3 + 2


async def test_stream_sends_the_documented_events_in_order(client: httpx.AsyncClient) -> None:
    events = await stream_events(client, request())
    assert [name for name, _ in events] == TEXT_EVENTS
    start = events[0][1]["message"]
    assert start["id"].startswith("msg_")
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["model"] == "claude-fake"
    assert start["usage"]["input_tokens"] == PROMPT_TOKENS
    assert start["usage"]["output_tokens"] == 1
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert all(delta["type"] == "text_delta" for delta in deltas)
    assert "".join(delta["text"] for delta in deltas) == REPLY
    assert all(data["index"] == 0 for name, data in events if name.startswith("content_block"))
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": REPLY_WORDS},
    }


async def test_stream_usage_equals_the_unstreamed_usage(client: httpx.AsyncClient) -> None:
    whole = (await client.post("/messages", json=request())).json()
    events = await stream_events(client, request())
    assert events[0][1]["message"]["usage"]["input_tokens"] == whole["usage"]["input_tokens"]
    assert events[-2][1]["usage"]["output_tokens"] == whole["usage"]["output_tokens"]


async def test_stream_of_a_tool_call_sends_input_json_deltas(client: httpx.AsyncClient) -> None:
    events = await stream_events(client, request(tools=TOOLS))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[1][1]["content_block"] == {
        "type": "tool_use",
        "id": TOOL_USE_ID,
        "name": "get_weather",
        "input": {},
    }
    fragments = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert [fragment["type"] for fragment in fragments] == ["input_json_delta"] * 2
    assert orjson.loads("".join(fragment["partial_json"] for fragment in fragments)) == TOOL_INPUT
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["output_tokens"] == 2


async def test_stream_cut_by_max_tokens(client: httpx.AsyncClient) -> None:
    events = await stream_events(client, request(max_tokens=3))
    deltas = [data["delta"]["text"] for name, data in events if name == "content_block_delta"]
    assert deltas == ["This ", "is ", "a "]
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"
    assert events[-2][1]["usage"]["output_tokens"] == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
        (529, "overloaded_error"),
    ],
)
async def test_error_models_return_anthropic_errors(
    client: httpx.AsyncClient, status: int, kind: str
) -> None:
    for stream in (False, True):
        response = await client.post(
            "/messages", json=request(f"fake-error-{status}", stream=stream)
        )
        assert_error(response, status, kind)
        assert response.headers.get("retry-after") == ("1" if status == 429 else None)


async def test_slow_model_waits_before_answering(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.post("/messages", json=request("fake-slow-100"))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.1


async def test_truncated_answer_breaks_off(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/messages", json=request("fake-truncate"))


async def test_truncated_stream_stops_after_two_deltas(client: httpx.AsyncClient) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    body = request("fake-truncate", stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        async with client.stream("POST", "/messages", json=body) as response:
            assert response.status_code == 200
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((name, orjson.loads(line.removeprefix("data: "))))
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "ping", *["content_block_delta"] * 2]


async def test_stream_error_event_after_one_delta(client: httpx.AsyncClient) -> None:
    events = await stream_events(client, request("fake-stream-error"))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "error",
    ]
    error = events[-1][1]
    assert error["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert error["request_id"].startswith("req_")


async def test_models_are_listed_in_anthropic_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/models")
    assert response.status_code == 200
    body = response.json()
    assert body["has_more"] is False
    assert body["first_id"] == MODELS[0]
    assert body["last_id"] == MODELS[-1]
    assert [model["id"] for model in body["data"]] == list(MODELS)
    for model in body["data"]:
        assert model["type"] == "model"
        assert model["display_name"]
        assert model["created_at"].endswith("Z")


async def test_unknown_path_is_an_anthropic_not_found(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/nothing", json={}), 404, "not_found_error")


async def test_requests_are_recorded(
    client: httpx.AsyncClient, upstream: FakeAnthropicUpstream
) -> None:
    await client.post("/messages", json=request("recorded-model"))
    recorded = upstream.requests[-1]
    assert recorded.method == "POST"
    assert recorded.path == "/v1/messages"
    assert recorded.headers["x-api-key"] == API_KEY
    assert recorded.headers["anthropic-version"] == VERSION
    assert recorded.json["model"] == "recorded-model"


# The official SDK parses what the fake sends.


@pytest.fixture
def sdk(upstream: FakeAnthropicUpstream) -> Any:
    anthropic = pytest.importorskip("anthropic")
    base_url = upstream.base_url.removesuffix("/v1")
    return anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=0)


async def test_sdk_creates_a_message(sdk: Any, upstream: FakeAnthropicUpstream) -> None:
    message = await sdk.messages.create(
        model="claude-fake", max_tokens=256, system=SYSTEM, messages=MESSAGES
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == REPLY
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == PROMPT_TOKENS
    assert message.usage.output_tokens == REPLY_WORDS
    assert message._request_id.startswith("req_")
    assert upstream.requests[-1].headers["anthropic-version"]


async def test_sdk_streams_a_message(sdk: Any) -> None:
    async with sdk.messages.stream(
        model="claude-fake", max_tokens=256, system=SYSTEM, messages=MESSAGES
    ) as stream:
        names = [event.type async for event in stream]
        message = await stream.get_final_message()
    assert "message_stop" in names
    assert message.content[0].text == REPLY
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == PROMPT_TOKENS
    assert message.usage.output_tokens == REPLY_WORDS


async def test_sdk_streams_a_tool_call(sdk: Any) -> None:
    async with sdk.messages.stream(
        model="claude-fake", max_tokens=256, messages=MESSAGES, tools=TOOLS
    ) as stream:
        message = await stream.get_final_message()
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert (block.type, block.id, block.name, block.input) == (
        "tool_use",
        TOOL_USE_ID,
        "get_weather",
        TOOL_INPUT,
    )
    assert message.usage.output_tokens == 2


async def test_sdk_raises_the_right_errors(sdk: Any) -> None:
    anthropic = pytest.importorskip("anthropic")
    for status, error in [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (429, anthropic.RateLimitError),
        (529, anthropic.OverloadedError),
    ]:
        with pytest.raises(error) as raised:
            await sdk.messages.create(
                model=f"fake-error-{status}", max_tokens=16, messages=MESSAGES
            )
        assert raised.value.status_code == status
        assert raised.value.request_id.startswith("req_")
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        async with sdk.messages.stream(
            model="fake-stream-error", max_tokens=16, messages=MESSAGES
        ) as stream:
            await stream.get_final_message()

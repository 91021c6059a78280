"""The Anthropic Messages API with the official `anthropic` SDK: translated onto an
OpenAI-format upstream, and passed through natively to an Anthropic upstream."""

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.multi_stack import (
    REPLY,
    REPLY_TOKENS,
    WEATHER_SCHEMA,
    MultiStack,
    cost,
    stack_fixture,
)
from tests.e2e.support import Caller
from tests.fakes.anthropic_upstream import TOOL_USE_ID
from tests.fakes.openai_upstream import TOOL_ARGUMENTS, TOOL_CALL_ID

SYSTEM = "You are terse."  # 3 words
HI = [{"role": "user", "content": "say hi please"}]  # 3 words
WEATHER = [{"role": "user", "content": "weather in Paris?"}]  # 3 words
TOOL_RESULT = "18 degrees and sunny"  # 4 words
TOOLS = [
    {"name": "get_weather", "description": "The weather in a city.", "input_schema": WEATHER_SCHEMA}
]
CALL_WORDS = 2  # '{"city": "Paris"}', the fakes' tool call arguments


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async for stack in stack_fixture(request, tmp_path_factory):
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def claude(caller: Caller, **kwargs: Any) -> anthropic.AsyncAnthropic:
    options: dict[str, Any] = {"api_key": caller.api_key, "max_retries": 0, "timeout": 20}
    return anthropic.AsyncAnthropic(base_url=caller.base_url, **(options | kwargs))


def tool_round_trip(first: anthropic.types.Message) -> list[dict[str, Any]]:
    """The conversation after `first` asked for a tool: its turn, then the tool's result."""
    (block,) = first.content
    result = {"type": "tool_result", "tool_use_id": block.id, "content": TOOL_RESULT}
    return [
        *WEATHER,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True)]},
        {"role": "user", "content": [result]},
    ]


# --- Served by an OpenAI-format upstream ---------------------------------------------------


async def test_create_is_translated_to_chat_completions_and_back(
    stack: MultiStack, caller: Caller
) -> None:
    message = await claude(caller).messages.create(
        model="fake/fake-model", max_tokens=100, system=SYSTEM, messages=HI
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "fake/fake-model"
    assert message.id.startswith("msg_")
    assert [(b.type, b.text) for b in message.content] == [("text", REPLY)]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (6, REPLY_TOKENS)
    sent = stack.openai.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {stack.openai.api_key}"
    assert sent.json["model"] == "fake-model"
    assert sent.json["max_tokens"] == 100
    assert sent.json["messages"] == [{"role": "system", "content": SYSTEM}, *HI]
    await caller.assert_books(calls=1, charged=cost("fake", 6, REPLY_TOKENS))


async def test_stream_text_and_final_message(stack: MultiStack, caller: Caller) -> None:
    async with claude(caller).messages.stream(
        model="fake/fake-model", max_tokens=100, system=SYSTEM, messages=HI
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == REPLY
    assert [(b.type, b.text) for b in final.content] == [("text", REPLY)]
    assert final.stop_reason == "end_turn"
    assert final.model == "fake/fake-model"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (6, REPLY_TOKENS)
    sent = stack.openai.requests[-1].json
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}  # usage to bill the stream by
    await caller.assert_books(calls=1, charged=cost("fake", 6, REPLY_TOKENS))


async def test_stream_events_arrive_in_anthropic_order(caller: Caller) -> None:
    async with claude(caller).messages.stream(
        model="fake/fake-model", max_tokens=100, messages=HI
    ) as stream:
        kinds = [event.type async for event in stream]
    core = [kind for kind in kinds if kind not in ("text", "ping")]  # "text": the SDK's own
    assert core == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * REPLY_TOKENS,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert kinds.count("text") == REPLY_TOKENS
    await caller.assert_books(calls=1, charged=cost("fake", 3, REPLY_TOKENS))


async def test_tool_use_round_trip(stack: MultiStack, caller: Caller) -> None:
    client = claude(caller)
    first = await client.messages.create(
        model="fake/fake-model", max_tokens=100, messages=WEATHER, tools=TOOLS
    )
    (block,) = first.content
    assert (block.type, block.id, block.name) == ("tool_use", TOOL_CALL_ID, "get_weather")
    assert block.input == json.loads(TOOL_ARGUMENTS)
    assert first.stop_reason == "tool_use"
    assert (first.usage.input_tokens, first.usage.output_tokens) == (3, CALL_WORDS)
    assert stack.openai.requests[-1].json["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER_SCHEMA,
                "description": "The weather in a city.",
            },
        }
    ]

    second = await client.messages.create(
        model="fake/fake-model", max_tokens=100, messages=tool_round_trip(first), tools=TOOLS
    )
    assert stack.openai.requests[-1].json["messages"] == [
        *WEATHER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": TOOL_CALL_ID,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
                }
            ],
        },
        {"role": "tool", "tool_call_id": TOOL_CALL_ID, "content": TOOL_RESULT},
    ]
    assert second.stop_reason == "tool_use"  # the fake calls the tool whenever it has one
    assert (second.usage.input_tokens, second.usage.output_tokens) == (3 + 4, CALL_WORDS)
    await caller.assert_books(
        calls=2, charged=cost("fake", 3, CALL_WORDS) + cost("fake", 7, CALL_WORDS)
    )


async def test_streamed_tool_use_assembles_the_input(caller: Caller) -> None:
    async with claude(caller).messages.stream(
        model="fake/fake-model", max_tokens=100, messages=WEATHER, tools=TOOLS
    ) as stream:
        final = await stream.get_final_message()
    (block,) = final.content
    assert (block.type, block.id, block.name) == ("tool_use", TOOL_CALL_ID, "get_weather")
    assert block.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, CALL_WORDS)
    await caller.assert_books(calls=1, charged=cost("fake", 3, CALL_WORDS))


# --- Passed through to an Anthropic upstream ----------------------------------------------


async def test_native_create_passes_the_body_through_with_the_provider_model_id(
    stack: MultiStack, caller: Caller
) -> None:
    message = await claude(caller).messages.create(
        model="sonnet",
        max_tokens=64,
        system=SYSTEM,
        messages=HI,
        metadata={"user_id": "end-user-42"},
        stop_sequences=["END"],
        extra_body={"top_k": 5},  # SDK 2.x has no top_k
    )
    sent = stack.anthropic.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.json == {
        "model": "claude-fake",
        "max_tokens": 64,
        "system": SYSTEM,
        "messages": HI,
        "metadata": {"user_id": "end-user-42"},
        "stop_sequences": ["END"],
        "top_k": 5,
    }
    assert sent.headers["x-api-key"] == stack.anthropic.api_key
    assert sent.headers["anthropic-version"]
    assert caller.api_key not in str(sent.headers)  # the user's key never leaves the gateway
    assert [(b.type, b.text) for b in message.content] == [("text", REPLY)]
    assert message.model == "claude-fake"  # the upstream's own answer, unchanged
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (6, REPLY_TOKENS)
    (log,) = await caller.assert_books(calls=1, charged=cost("claude", 6, REPLY_TOKENS))
    assert log["provider_model"] == "claude-fake"


async def test_native_stream_is_passed_through_and_billed(
    stack: MultiStack, caller: Caller
) -> None:
    async with claude(caller).messages.stream(
        model="claude/claude-fake", max_tokens=64, system=SYSTEM, messages=HI
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == REPLY
    assert [(b.type, b.text) for b in final.content] == [("text", REPLY)]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (6, REPLY_TOKENS)
    sent = stack.anthropic.requests[-1].json
    assert sent == {
        "model": "claude-fake",
        "max_tokens": 64,
        "system": SYSTEM,
        "messages": HI,
        "stream": True,
    }
    await caller.assert_books(calls=1, charged=cost("claude", 6, REPLY_TOKENS))


async def test_native_stream_events_are_the_upstream_events(caller: Caller) -> None:
    async with (
        caller.http() as http,
        http.stream(
            "POST",
            "/v1/messages",
            json={"model": "claude-fake", "max_tokens": 64, "messages": HI, "stream": True},
        ) as response,
    ):
        assert response.status_code == 200
        lines = [line async for line in response.aiter_lines()]
    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    data = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]
    assert names == [event["type"] for event in data]  # every event is named
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * REPLY_TOKENS,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "".join(e["delta"]["text"] for e in data if e["type"] == "content_block_delta") == REPLY
    await caller.assert_books(calls=1, charged=cost("claude", 3, REPLY_TOKENS))


async def test_native_tool_use_round_trip(stack: MultiStack, caller: Caller) -> None:
    client = claude(caller)
    first = await client.messages.create(
        model="claude/claude-fake", max_tokens=100, messages=WEATHER, tools=TOOLS
    )
    (block,) = first.content
    assert (block.type, block.id, block.name) == ("tool_use", TOOL_USE_ID, "get_weather")
    assert block.input == {"city": "Paris"}
    assert first.stop_reason == "tool_use"
    assert stack.anthropic.requests[-1].json["tools"] == TOOLS

    async with client.messages.stream(
        model="claude/claude-fake", max_tokens=100, messages=tool_round_trip(first), tools=TOOLS
    ) as stream:
        second = await stream.get_final_message()
    sent = stack.anthropic.requests[-1].json
    assert sent["messages"] == [
        *WEATHER,
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": TOOL_USE_ID,
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": TOOL_RESULT}
            ],
        },
    ]
    (again,) = second.content
    assert (again.type, again.input) == ("tool_use", {"city": "Paris"})
    assert (second.usage.input_tokens, second.usage.output_tokens) == (3 + 4, CALL_WORDS)
    await caller.assert_books(
        calls=2, charged=cost("claude", 3, CALL_WORDS) + cost("claude", 7, CALL_WORDS)
    )


async def test_native_stream_error_event_raises_in_the_sdk(caller: Caller) -> None:
    """The upstream breaks off with `event: error`: the SDK raises, and the books balance."""
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with claude(caller).messages.stream(
            model="claude/fake-stream-error", max_tokens=64, messages=HI
        ) as stream:
            async for _ in stream:
                pass
    assert "Overloaded" in str(caught.value)
    (log,) = await caller.logs(1)
    assert log["status_code"] == 502
    user = await caller.user()
    assert user.reserved_units == 0
    charged = caller.start_units - user.balance_units
    assert charged == log["cost_units"]
    assert charged == -sum(row["amount_units"] for row in await caller.usage_rows())


# --- Authentication and errors, in Anthropic's format --------------------------------------


@pytest.mark.parametrize("model", ["fake/fake-model", "claude/claude-fake"])
@pytest.mark.parametrize("scheme", ["bearer", "x-api-key"])
async def test_key_in_bearer_or_x_api_key_header(caller: Caller, model: str, scheme: str) -> None:
    if scheme == "bearer":  # what the SDK sends for api_key=...
        client = claude(caller)
    else:  # what older SDKs and curl users send
        client = claude(caller, api_key=None, default_headers={"x-api-key": caller.api_key})
    message = await client.messages.create(model=model, max_tokens=50, messages=HI)
    assert message.content[0].text == REPLY
    provider = model.split("/")[0]
    await caller.assert_books(calls=1, charged=cost(provider, 3, REPLY_TOKENS))


async def assert_anthropic_error(
    caught: pytest.ExceptionInfo[anthropic.APIStatusError], status: int, kind: str
) -> str:
    """Status, Anthropic's error body and request id as the SDK reads them; the message."""
    error = caught.value
    assert error.status_code == status
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == kind
    assert error.body["error"]["message"]
    assert error.request_id and error.body["request_id"] == error.request_id
    return str(error.body["error"]["message"])


async def test_bad_key_is_an_authentication_error(stack: MultiStack, caller: Caller) -> None:
    before = len(stack.anthropic.requests)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await claude(caller, api_key="gz-not-a-key").messages.create(
            model="claude/claude-fake", max_tokens=50, messages=HI
        )
    await assert_anthropic_error(caught, 401, "authentication_error")
    assert len(stack.anthropic.requests) == before


async def test_unknown_model_is_not_found(caller: Caller) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await claude(caller).messages.create(model="no-such-model", max_tokens=50, messages=HI)
    message = await assert_anthropic_error(caught, 404, "not_found_error")
    assert "no-such-model" in message
    await caller.assert_books(calls=0, charged=0)


async def test_unaffordable_call_is_402_and_reaches_no_upstream(stack: MultiStack) -> None:
    poor = await stack.caller(credits="0")
    before = len(stack.anthropic.requests)
    with pytest.raises(anthropic.APIStatusError) as caught:
        await claude(poor).messages.create(model="claude/claude-fake", max_tokens=50, messages=HI)
    message = await assert_anthropic_error(caught, 402, "billing_error")
    assert "credits" in message.lower()
    assert len(stack.anthropic.requests) == before
    await poor.assert_books(calls=0, charged=0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_tokens": 0, "messages": HI}, "max_tokens"),
        ({"max_tokens": 50, "messages": []}, "messages"),
        ({"messages": HI}, "max_tokens"),
        ({"max_tokens": 50, "messages": HI, "session_id": 1}, "session_id"),
    ],
    ids=["zero-max-tokens", "no-messages", "missing-max-tokens", "chat-session"],
)
async def test_invalid_body_is_a_bad_request_naming_the_field(
    stack: MultiStack, caller: Caller, body: dict[str, Any], field: str
) -> None:
    before = len(stack.anthropic.requests)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude(caller).post(
            "/v1/messages",
            body={"model": "claude/claude-fake", **body},
            cast_to=httpx.Response,
        )
    message = await assert_anthropic_error(caught, 400, "invalid_request_error")
    assert field in message
    assert len(stack.anthropic.requests) == before

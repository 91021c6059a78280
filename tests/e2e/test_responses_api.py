"""The OpenAI Responses API with the official `openai` SDK: passed through natively to a
provider whose row has `quirks: [responses_api]`, translated onto chat completions for the
rest (OpenAI-, Anthropic- and Gemini-format upstreams)."""

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.e2e.multi_stack import (
    MODELS,
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
from tests.fakes.responses_upstream import CALL_ARGUMENTS, CALL_ID
from tests.openai_spec import validate

INSTRUCTIONS = "You are terse."  # 3 words
PROMPT = "say hi please"  # 3 words
WEATHER = "weather in Paris?"  # 3 words
TOOL_OUTPUT = "18 degrees and sunny"  # 4 words
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": WEATHER_SCHEMA,
        "strict": True,
    }
]
CALL_WORDS = 2  # '{"city": "Paris"}', every fake's tool call arguments
TRANSLATED = ["fake", "claude", "gem"]
CALL_IDS = {"fake": TOOL_CALL_ID, "claude": TOOL_USE_ID, "oresp": CALL_ID}
MADE_UP_ID = re.compile(r"call_[0-9a-f]{24}")
# The spec's schema for each stream event type (validating against the union only says "no").
EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.failed": "ResponseFailedEvent",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async for stack in stack_fixture(request, tmp_path_factory):
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def assert_call_id(target: str, call_id: str) -> None:
    if target == "gem":  # Gemini calls carry no id: the gateway makes one up
        assert MADE_UP_ID.fullmatch(call_id), call_id
    else:
        assert call_id == CALL_IDS[target]


def count(stack: MultiStack, target: str) -> int:
    fakes = {
        "fake": stack.openai,
        "claude": stack.anthropic,
        "gem": stack.gemini,
        "oresp": stack.responses,
    }
    return len(fakes[target].requests)


async def raw_events(caller: Caller, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each event of a streamed /v1/responses call."""
    async with (
        caller.http() as http,
        http.stream("POST", "/v1/responses", json={**body, "stream": True}) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines()]
    events = []
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
            assert name == data["type"], "every event is named after its type"
            events.append((name, data))
            name = None
    return events


def assert_stream_shape(events: list[tuple[str, dict[str, Any]]], text: str) -> dict[str, Any]:
    """Spec-valid events, numbered in order, opening and closing like OpenAI's; the final
    Response."""
    for name, data in events:
        validate(EVENT_SCHEMAS[name], data)
        validate("ResponseStreamEvent", data)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    names = [name for name, _ in events]
    assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert names[-1] == "response.completed"
    deltas = [data["delta"] for name, data in events if name == "response.output_text.delta"]
    assert "".join(deltas) == text
    final = events[-1][1]["response"]
    validate("Response", final)
    ids = {data["response"]["id"] for _, data in events if "response" in data}
    assert ids == {final["id"]}
    return final


# --- Passed through natively ---------------------------------------------------------------


async def test_native_create_passes_the_body_through(stack: MultiStack, caller: Caller) -> None:
    raw = await caller.client().responses.with_raw_response.create(
        model="oresp/resp-fake",
        input=PROMPT,
        instructions=INSTRUCTIONS,
        max_output_tokens=50,
        metadata={"ticket": "42"},
        store=False,
    )
    assert raw.headers["x-gatewayz-provider"] == "oresp"
    sent = stack.responses.requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == f"Bearer {stack.responses.api_key}"
    assert sent.json == {
        "model": "resp-fake",
        "input": PROMPT,
        "instructions": INSTRUCTIONS,
        "max_output_tokens": 50,
        "metadata": {"ticket": "42"},
        "store": False,
    }
    validate("Response", raw.http_response.json())
    response = raw.parse()
    assert response.status == "completed"
    assert response.output_text == REPLY
    assert response.model == "resp-fake"  # the upstream's answer, unchanged
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (6, REPLY_TOKENS)
    (log,) = await caller.assert_books(calls=1, charged=cost("oresp", 6, REPLY_TOKENS))
    assert log["provider_model"] == "resp-fake"


async def test_native_stream_is_the_upstream_stream(stack: MultiStack, caller: Caller) -> None:
    body = {"model": "oresp/resp-fake", "input": PROMPT, "instructions": INSTRUCTIONS}
    events = await raw_events(caller, body)
    final = assert_stream_shape(events, REPLY)
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * REPLY_TOKENS,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert final["id"].startswith("resp_fake")  # the upstream's own events
    # Passed through as sent, with the output limit the gateway held (the default: none was set)
    # and store: false (the gateway keeps no responses at the upstream).
    sent = {**body, "model": "resp-fake", "stream": True, "store": False, "max_output_tokens": 4096}
    assert stack.responses.requests[-1].json == sent

    async with caller.client().responses.stream(**body) as stream:
        text = "".join(
            [event.delta async for event in stream if event.type == "response.output_text.delta"]
        )
        response = await stream.get_final_response()
    assert text == REPLY
    assert response.output_text == REPLY
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (6, REPLY_TOKENS)
    await caller.assert_books(calls=2, charged=2 * cost("oresp", 6, REPLY_TOKENS))


async def test_native_function_tool_round_trip(stack: MultiStack, caller: Caller) -> None:
    client = caller.client()
    first = await client.responses.create(model="oresp/resp-fake", input=WEATHER, tools=TOOLS)
    (call,) = first.output
    assert call.type == "function_call"
    assert (call.call_id, call.name, call.arguments) == (CALL_ID, "get_weather", CALL_ARGUMENTS)
    assert stack.responses.requests[-1].json["tools"] == TOOLS

    history = [
        {"role": "user", "content": WEATHER},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_OUTPUT},
    ]
    stream = await client.responses.create(
        model="oresp/resp-fake", input=history, tools=TOOLS, stream=True
    )
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    assert "response.function_call_arguments.done" in kinds
    assert stack.responses.requests[-1].json["input"] == history
    await caller.assert_books(
        calls=2, charged=cost("oresp", 3, CALL_WORDS) + cost("oresp", 3 + 4, CALL_WORDS)
    )


# --- Translated onto chat completions ------------------------------------------------------


def assert_chat_request(stack: MultiStack, target: str, max_tokens: int, stream: bool) -> None:
    """The upstream got the instructions as the system prompt, and the input as the user turn."""
    if target == "fake":
        sent = stack.openai.requests[-1].json
        expected = {
            "model": "fake-model",
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": PROMPT},
            ],
            "max_tokens": max_tokens,
        }
        if stream:
            expected |= {"stream": True, "stream_options": {"include_usage": True}}
        assert sent == expected
    elif target == "claude":
        sent = stack.anthropic.requests[-1].json
        assert sent["model"] == "claude-fake"
        assert sent["system"] == [{"type": "text", "text": INSTRUCTIONS}]
        assert sent["messages"] == [{"role": "user", "content": PROMPT}]
        assert sent["max_tokens"] == max_tokens
        assert sent.get("stream", False) is stream
    else:
        sent = stack.gemini.requests[-1].json
        assert sent["systemInstruction"] == {"parts": [{"text": INSTRUCTIONS}]}
        assert sent["contents"] == [{"role": "user", "parts": [{"text": PROMPT}]}]
        assert sent["generationConfig"] == {"maxOutputTokens": max_tokens}


@pytest.mark.parametrize("target", TRANSLATED)
async def test_translated_create(stack: MultiStack, caller: Caller, target: str) -> None:
    raw = await caller.client().responses.with_raw_response.create(
        model=MODELS[target],
        input=PROMPT,
        instructions=INSTRUCTIONS,
        max_output_tokens=100,
        metadata={"ticket": "42"},
    )
    assert raw.headers["x-gatewayz-provider"] == target
    validate("Response", raw.http_response.json())
    response = raw.parse()
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == MODELS[target]
    assert response.instructions == INSTRUCTIONS
    assert response.max_output_tokens == 100
    assert response.metadata == {"ticket": "42"}
    (message,) = response.output
    assert (message.type, message.role, message.status) == ("message", "assistant", "completed")
    assert response.output_text == REPLY
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (6, REPLY_TOKENS)
    assert response.usage.total_tokens == 6 + REPLY_TOKENS
    assert_chat_request(stack, target, 100, stream=False)
    await caller.assert_books(calls=1, charged=cost(target, 6, REPLY_TOKENS))


@pytest.mark.parametrize("target", TRANSLATED)
async def test_translated_stream(stack: MultiStack, caller: Caller, target: str) -> None:
    body = {
        "model": MODELS[target],
        "input": PROMPT,
        "instructions": INSTRUCTIONS,
        "max_output_tokens": 100,
    }
    events = await raw_events(caller, body)
    final = assert_stream_shape(events, REPLY)
    assert final["status"] == "completed"
    assert final["usage"]["input_tokens"] == 6
    assert final["usage"]["output_tokens"] == REPLY_TOKENS
    assert_chat_request(stack, target, 100, stream=True)

    async with caller.client().responses.stream(**body) as stream:
        text = "".join(
            [event.delta async for event in stream if event.type == "response.output_text.delta"]
        )
        response = await stream.get_final_response()
    assert text == REPLY
    assert response.status == "completed"
    assert response.output_text == REPLY
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (6, REPLY_TOKENS)
    await caller.assert_books(calls=2, charged=2 * cost(target, 6, REPLY_TOKENS))


@pytest.mark.parametrize("target", TRANSLATED)
async def test_translated_function_tool_round_trip(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    client = caller.client()
    raw = await client.responses.with_raw_response.create(
        model=MODELS[target], input=WEATHER, tools=TOOLS, max_output_tokens=100
    )
    validate("Response", raw.http_response.json())
    first = raw.parse()
    (call,) = first.output
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert_call_id(target, call.call_id)
    assert first.usage is not None
    assert (first.usage.input_tokens, first.usage.output_tokens) == (3, CALL_WORDS)
    if target == "fake":
        assert stack.openai.requests[-1].json["tools"] == [
            {
                "type": "function",
                "function": {k: v for k, v in TOOLS[0].items() if k != "type"},
            }
        ]

    history = [
        {"role": "user", "content": WEATHER},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_OUTPUT},
    ]
    async with client.responses.stream(
        model=MODELS[target], input=history, tools=TOOLS, max_output_tokens=100
    ) as stream:
        second = await stream.get_final_response()
    (again,) = second.output
    assert (again.type, again.name) == ("function_call", "get_weather")
    assert json.loads(again.arguments) == {"city": "Paris"}
    if target == "fake":
        assert stack.openai.requests[-1].json["messages"] == [
            {"role": "user", "content": WEATHER},
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
            {"role": "tool", "tool_call_id": TOOL_CALL_ID, "content": TOOL_OUTPUT},
        ]
        second_input = 3 + 4
    elif target == "claude":
        result = stack.anthropic.requests[-1].json["messages"][-1]
        assert result == {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": TOOL_OUTPUT}
            ],
        }
        second_input = 3 + 4
    else:
        result = stack.gemini.requests[-1].json["contents"][-1]
        assert result == {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"content": TOOL_OUTPUT},
                    }
                }
            ],
        }
        second_input = 3  # the Gemini fake counts text parts only
    assert second.usage is not None
    assert (second.usage.input_tokens, second.usage.output_tokens) == (second_input, CALL_WORDS)
    await caller.assert_books(
        calls=2, charged=cost(target, 3, CALL_WORDS) + cost(target, second_input, CALL_WORDS)
    )


@pytest.mark.parametrize("target", TRANSLATED)
async def test_sdk_create_stream_true_with_a_function_tool(caller: Caller, target: str) -> None:
    stream = await caller.client().responses.create(
        model=MODELS[target], input=WEATHER, tools=TOOLS, max_output_tokens=100, stream=True
    )
    events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    assert json.loads(arguments) == {"city": "Paris"}
    (done,) = [e for e in events if e.type == "response.output_item.done"]
    assert (done.item.type, done.item.name) == ("function_call", "get_weather")
    assert_call_id(target, done.item.call_id)
    (call,) = events[-1].response.output
    assert (call.call_id, call.arguments) == (done.item.call_id, done.item.arguments)
    await caller.assert_books(calls=1, charged=cost(target, 3, CALL_WORDS))


async def test_translated_stream_that_breaks_off_ends_with_response_failed(
    caller: Caller,
) -> None:
    """The Anthropic upstream sends one word, then `event: error`."""
    events = await raw_events(caller, {"model": "claude/fake-stream-error", "input": PROMPT})
    for name, data in events:
        validate(EVENT_SCHEMAS[name], data)
    names = [name for name, _ in events]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.failed"
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    failed = events[-1][1]["response"]
    assert failed["status"] == "failed"
    assert "Overloaded" in failed["error"]["message"]
    (message,) = failed["output"]
    assert message["content"][0]["text"] == "This "
    (log,) = await caller.logs(1)
    assert log["status_code"] == 502
    user = await caller.user()
    assert user.reserved_units == 0
    charged = caller.start_units - user.balance_units
    assert charged == log["cost_units"] > 0
    assert charged == -sum(row["amount_units"] for row in await caller.usage_rows())


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"previous_response_id": "resp_earlier"}, "previous_response_id"),
        (
            {"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}},
            "tool_choice",
        ),
    ],
    ids=["stored-state", "forced-built-in-tool"],
)
async def test_what_only_openai_can_do_is_refused_when_translated(
    stack: MultiStack, caller: Caller, extra: dict[str, Any], param: str
) -> None:
    before = count(stack, "fake")
    with pytest.raises(openai.BadRequestError) as caught:
        await caller.client().responses.create(model="fake/fake-model", input=PROMPT, **extra)
    assert caught.value.body["param"] == param
    assert count(stack, "fake") == before
    await caller.assert_books(calls=1, charged=0)

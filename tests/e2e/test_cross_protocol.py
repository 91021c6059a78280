"""The `openai` SDK (chat, streams, tools) served by an Anthropic-format and by a Gemini-format
upstream: what the client sees, what the upstream receives, and what the call costs."""

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.e2e.multi_stack import (
    REPLY,
    REPLY_TOKENS,
    WEATHER_SCHEMA,
    MultiStack,
    cost,
    stack_fixture,
)
from tests.e2e.support import Caller, sse_data
from tests.fakes.anthropic_upstream import TOOL_USE_ID
from tests.fakes.gemini_upstream import RecordedRequest as GeminiRequest
from tests.fakes.openai_upstream import RecordedRequest
from tests.openai_spec import validate

SYSTEM = "You are terse."  # 3 words
HI = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "say hi please"}]
WEATHER = [{"role": "user", "content": "weather in Paris?"}]  # 3 words
TOOL_OUTPUT = '{"temp_c": 18}'  # 2 words
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER_SCHEMA,
        },
    }
]
CALL_WORDS = 2  # '{"city": "Paris"}', the fakes' tool call arguments
MADE_UP_ID = re.compile(r"call_[0-9a-f]{24}")
TARGETS = ["claude", "gem"]
UPSTREAM_MODEL = {"claude": "claude-fake", "gem": "gemini-fake"}
MODEL = {"claude": "claude/claude-fake", "gem": "gem/gemini-fake"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async for stack in stack_fixture(request, tmp_path_factory):
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def last_request(stack: MultiStack, target: str) -> RecordedRequest | GeminiRequest:
    return stack.anthropic.requests[-1] if target == "claude" else stack.gemini.requests[-1]


def request_count(stack: MultiStack, target: str) -> int:
    return len(stack.anthropic.requests if target == "claude" else stack.gemini.requests)


def assert_tool_call_id(target: str, call_id: str) -> None:
    """Anthropic's own tool_use id, or one the gateway made up (Gemini calls carry none)."""
    if target == "claude":
        assert call_id == TOOL_USE_ID
    else:
        assert MADE_UP_ID.fullmatch(call_id), call_id


def assert_hi_reached_the_upstream(
    stack: MultiStack, target: str, max_tokens: int, stream: bool
) -> None:
    sent = last_request(stack, target)
    if target == "claude":
        assert sent.path == "/v1/messages"
        assert sent.headers["x-api-key"] == stack.anthropic.api_key
        expected: dict[str, Any] = {
            "model": "claude-fake",
            "max_tokens": max_tokens,
            "system": [{"type": "text", "text": SYSTEM}],
            "messages": [{"role": "user", "content": "say hi please"}],
        }
        if stream:
            expected["stream"] = True
        assert sent.json == expected
    else:
        method = "streamGenerateContent" if stream else "generateContent"
        assert sent.path == f"/v1beta/models/gemini-fake:{method}"
        assert sent.query == ({"alt": "sse"} if stream else {})
        assert sent.headers["x-goog-api-key"] == stack.gemini.api_key
        assert sent.json == {
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": "say hi please"}]}],
            "generationConfig": {"maxOutputTokens": max_tokens},
        }


@pytest.mark.parametrize("target", TARGETS)
async def test_chat_completion(stack: MultiStack, caller: Caller, target: str) -> None:
    raw = await caller.client().chat.completions.with_raw_response.create(
        model=MODEL[target], messages=HI, max_tokens=100
    )
    validate("CreateChatCompletionResponse", raw.http_response.json())
    assert raw.headers["x-gatewayz-provider"] == target
    answer = raw.parse()
    assert answer.object == "chat.completion"
    assert answer.model == UPSTREAM_MODEL[target]
    (choice,) = answer.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == REPLY
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (6, REPLY_TOKENS)
    assert answer.usage.total_tokens == 6 + REPLY_TOKENS
    assert_hi_reached_the_upstream(stack, target, 100, stream=False)
    assert caller.api_key not in str(last_request(stack, target).headers)
    await caller.assert_books(calls=1, charged=cost(target, 6, REPLY_TOKENS))


@pytest.mark.parametrize("target", TARGETS)
async def test_output_limit_is_finish_reason_length(caller: Caller, target: str) -> None:
    answer = await caller.client().chat.completions.create(
        model=MODEL[target], messages=HI, max_tokens=2
    )
    assert answer.choices[0].message.content == "This is "
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (6, 2)
    await caller.assert_books(calls=1, charged=cost(target, 6, 2))


@pytest.mark.parametrize("target", TARGETS)
async def test_stream_with_include_usage(stack: MultiStack, caller: Caller, target: str) -> None:
    body = {
        "model": MODEL[target],
        "messages": HI,
        "max_tokens": 100,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with (
        caller.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.headers["x-gatewayz-provider"] == target
        events = await sse_data(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
        assert chunk["object"] == "chat.completion.chunk"
    assert len({chunk["id"] for chunk in chunks}) == 1
    with_choices = [chunk for chunk in chunks if chunk["choices"]]
    roles = [c["choices"][0]["delta"].get("role") for c in with_choices]
    assert roles[0] == "assistant" and not any(roles[1:])  # the role only in the first delta
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in with_choices) == REPLY
    finishes = [c["choices"][0]["finish_reason"] for c in with_choices]
    assert finishes[-1] == "stop" and not any(finishes[:-1])
    assert all(chunk.get("usage") is None for chunk in with_choices)
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == [] and with_choices == chunks[:-1]
    usage = usage_chunk["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (6, REPLY_TOKENS)
    assert usage["total_tokens"] == 6 + REPLY_TOKENS
    assert_hi_reached_the_upstream(stack, target, 100, stream=True)
    await caller.assert_books(calls=1, charged=cost(target, 6, REPLY_TOKENS))


@pytest.mark.parametrize("target", TARGETS)
async def test_sdk_stream_without_usage_is_still_billed_in_full(
    caller: Caller, target: str
) -> None:
    stream = await caller.client().chat.completions.create(
        model=MODEL[target], messages=HI, max_tokens=100, stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == REPLY
    assert chunks[-1].choices[0].finish_reason == "stop"
    (log,) = await caller.assert_books(calls=1, charged=cost(target, 6, REPLY_TOKENS))
    assert (log["input_tokens"], log["output_tokens"]) == (6, REPLY_TOKENS)
    assert log["usage_estimated"] is False


@pytest.mark.parametrize("target", TARGETS)
async def test_tool_call(stack: MultiStack, caller: Caller, target: str) -> None:
    raw = await caller.client().chat.completions.with_raw_response.create(
        model=MODEL[target], messages=WEATHER, tools=TOOLS, max_tokens=100
    )
    validate("CreateChatCompletionResponse", raw.http_response.json())
    (choice,) = raw.parse().choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert_tool_call_id(target, call.id)
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    sent = last_request(stack, target).json
    if target == "claude":
        assert sent["tools"] == [
            {
                "name": "get_weather",
                "description": "The weather in a city.",
                "input_schema": WEATHER_SCHEMA,
            }
        ]
    else:
        (declaration,) = sent["tools"][0]["functionDeclarations"]
        assert declaration["name"] == "get_weather"
        assert declaration["description"] == "The weather in a city."
        assert declaration["parameters"]["required"] == ["city"]
    await caller.assert_books(calls=1, charged=cost(target, 3, CALL_WORDS))


@pytest.mark.parametrize("target", TARGETS)
async def test_streamed_tool_call_with_the_sdk_stream_helper(caller: Caller, target: str) -> None:
    """The helper concatenates repeated fields: an id or name sent twice would show doubled."""
    async with caller.client().chat.completions.stream(
        model=MODEL[target],
        messages=WEATHER,
        tools=TOOLS,
        max_tokens=100,
        stream_options={"include_usage": True},
    ) as stream:
        final = await stream.get_final_completion()
    (choice,) = final.choices
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert_tool_call_id(target, call.id)
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (3, CALL_WORDS)
    await caller.assert_books(calls=1, charged=cost(target, 3, CALL_WORDS))


@pytest.mark.parametrize("streamed_call", [False, True], ids=["unary-call", "streamed-call"])
@pytest.mark.parametrize("target", TARGETS)
async def test_tool_result_reaches_the_upstream_under_its_call(
    stack: MultiStack, caller: Caller, target: str, streamed_call: bool
) -> None:
    client = caller.client()
    if streamed_call:
        async with client.chat.completions.stream(
            model=MODEL[target], messages=WEATHER, tools=TOOLS, max_tokens=100
        ) as stream:
            first = await stream.get_final_completion()
    else:
        first = await client.chat.completions.create(
            model=MODEL[target], messages=WEATHER, tools=TOOLS, max_tokens=100
        )
    (call,) = first.choices[0].message.tool_calls or []
    assistant = first.choices[0].message.model_dump(exclude_none=True, exclude={"parsed"})
    for tool_call in assistant["tool_calls"]:
        tool_call.pop("index", None)  # a streamed call's position, not part of a message
    result = {"role": "tool", "tool_call_id": call.id, "content": TOOL_OUTPUT}
    second = await client.chat.completions.create(
        model=MODEL[target], messages=[*WEATHER, assistant, result], tools=TOOLS, max_tokens=100
    )
    sent = last_request(stack, target).json
    if target == "claude":
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
                    {"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": TOOL_OUTPUT}
                ],
            },
        ]
        second_input = 3 + 2  # the fake counts the tool result's words
    else:
        assert sent["contents"] == [
            {"role": "user", "parts": [{"text": "weather in Paris?"}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        # Google's documented placeholder for calls without a signature
                        "thoughtSignature": "skip_thought_signature_validator",
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "get_weather",
                            "response": {"content": {"temp_c": 18}},
                        }
                    }
                ],
            },
        ]
        second_input = 3  # the fake counts text parts only
    assert second.choices[0].finish_reason == "tool_calls"  # the fakes call whenever they can
    assert second.usage is not None
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (
        second_input,
        CALL_WORDS,
    )
    await caller.assert_books(
        calls=2, charged=cost(target, 3, CALL_WORDS) + cost(target, second_input, CALL_WORDS)
    )


async def test_gemini_call_ids_are_unique_per_call(caller: Caller) -> None:
    client = caller.client()
    ids = set()
    for _ in range(3):
        answer = await client.chat.completions.create(
            model="gem/gemini-fake", messages=WEATHER, tools=TOOLS, max_tokens=100
        )
        (call,) = answer.choices[0].message.tool_calls or []
        ids.add(call.id)
    assert len(ids) == 3
    await caller.assert_books(calls=3, charged=3 * cost("gem", 3, CALL_WORDS))


async def test_gemini_tool_result_with_an_unknown_id_is_refused(
    stack: MultiStack, caller: Caller
) -> None:
    assistant = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": "call_other", "content": TOOL_OUTPUT}
    before = request_count(stack, "gem")
    with pytest.raises(openai.BadRequestError) as caught:
        await caller.client().chat.completions.create(
            model="gem/gemini-fake", messages=[*WEATHER, assistant, result], tools=TOOLS
        )
    assert caught.value.body["param"] == "messages.2.tool_call_id"
    assert "call_other" in caught.value.body["message"]
    assert request_count(stack, "gem") == before
    await caller.assert_books(calls=1, charged=0)


async def test_upstream_error_event_mid_stream_reaches_the_client_and_the_books_balance(
    stack: MultiStack, caller: Caller
) -> None:
    """The Anthropic upstream sends one text delta, then `event: error`: the client gets the
    text, then the error (the SDK raises), and the call is settled and logged."""
    stream = await caller.client().chat.completions.create(
        model="claude/fake-stream-error", messages=HI, max_tokens=100, stream=True
    )
    text = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            text.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "".join(text) == "This "
    assert "Overloaded" in caught.value.message
    (log,) = await caller.logs(1)
    assert log["status_code"] == 502
    assert "Overloaded" in log["error"]
    user = await caller.user()
    assert user.reserved_units == 0
    charged = caller.start_units - user.balance_units
    assert (
        charged == log["cost_units"] == -sum(r["amount_units"] for r in await caller.usage_rows())
    )

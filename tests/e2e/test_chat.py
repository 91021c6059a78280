"""Non-streamed chat completions through the gateway, with the official OpenAI SDK."""

import json

import pytest

from tests.e2e.support import HI, HI_COST, REPLY, REPLY_TOKENS, TOOLS, Caller, cost_units
from tests.fakes.openai_upstream import TOOL_ARGUMENTS, TOOL_CALL_ID
from tests.openai_spec import validate


async def test_chat_completion_is_the_upstream_answer_and_matches_the_spec(
    caller: Caller,
) -> None:
    client = caller.client()
    raw = await client.chat.completions.with_raw_response.create(
        model="fake/fake-model", messages=HI
    )
    assert raw.status_code == 200
    assert raw.headers["x-request-id"].startswith("req_")
    validate("CreateChatCompletionResponse", raw.http_response.json())
    answer = raw.parse()
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == REPLY
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (3, REPLY_TOKENS)
    await caller.assert_books(calls=1, charged=HI_COST)


@pytest.mark.parametrize("model", ["fake/fake-model", "fake-model"])
async def test_model_by_public_id_or_plain_id_reaches_the_provider_by_its_own_id(
    caller: Caller, model: str
) -> None:
    before = len(caller.upstream.requests)
    answer = await caller.client().chat.completions.create(model=model, messages=HI)
    assert answer.choices[0].message.content == REPLY
    assert len(caller.upstream.requests) == before + 1
    sent = caller.upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == "fake-model"
    assert sent.headers["authorization"] == f"Bearer {caller.upstream.api_key}"
    assert caller.api_key not in str(sent.headers)  # the user's key never leaves the gateway
    (log,) = await caller.assert_books(calls=1, charged=HI_COST)
    assert log["model"] == model
    assert log["provider_model"] == "fake-model"


async def test_unknown_and_optional_fields_pass_through_to_the_upstream(caller: Caller) -> None:
    await caller.client().chat.completions.create(
        model="fake/fake-model",
        messages=HI,
        temperature=0.25,
        seed=7,
        stop=["\n\n"],
        user="end-user-42",
        extra_body={"x_vendor_option": {"depth": 3, "tags": ["a", "b"]}, "top_k": 40},
    )
    sent = caller.upstream.requests[-1].json
    assert sent["x_vendor_option"] == {"depth": 3, "tags": ["a", "b"]}
    assert sent["top_k"] == 40
    assert sent["temperature"] == 0.25
    assert sent["seed"] == 7
    assert sent["stop"] == ["\n\n"]
    assert sent["user"] == "end-user-42"
    assert sent["messages"] == HI
    assert "stream_options" not in sent  # only streams ask the upstream for usage


async def test_tool_calls_pass_through(caller: Caller) -> None:
    messages = [{"role": "user", "content": "weather in Paris?"}]
    answer = await caller.client().chat.completions.create(
        model="fake/fake-model", messages=messages, tools=TOOLS, tool_choice="auto"
    )
    sent = caller.upstream.requests[-1].json
    assert sent["tools"] == TOOLS
    assert sent["tool_choice"] == "auto"
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.id == TOOL_CALL_ID
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    # 3 prompt words, and the 2 words of the arguments as completion tokens
    await caller.assert_books(calls=1, charged=cost_units(3, len(TOOL_ARGUMENTS.split())))


async def test_a_tool_result_round_trip_is_forwarded_unchanged(caller: Caller) -> None:
    messages = [
        {"role": "user", "content": "weather in Paris?"},
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
        {"role": "tool", "tool_call_id": TOOL_CALL_ID, "content": "sunny and warm"},
    ]
    answer = await caller.client().chat.completions.create(model="fake-model", messages=messages)
    assert answer.choices[0].message.content == REPLY
    assert caller.upstream.requests[-1].json["messages"] == messages
    # 3 + 3 words of content in, 5 out
    await caller.assert_books(calls=1, charged=cost_units(6, REPLY_TOKENS))

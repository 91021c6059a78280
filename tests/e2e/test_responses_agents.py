"""What coding agents (Codex) send to the Responses API, with the official `openai` SDK: a
namespace's tools round trip, hosted tools and `include` are dropped and named, reasoning
comes back as reasoning items streamed in OpenAI's order (a translated stream reads as a native
one), and reasoning items replayed with their encrypted content reach a native upstream while a
translated one leaves them out. Reasoning tokens are charged as output."""

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.e2e.multi_stack import WEATHER_SCHEMA, MultiStack, cost, multi_stack
from tests.e2e.support import Caller
from tests.e2e.test_responses_api import EVENT_SCHEMAS, raw_events
from tests.fakes import anthropic_upstream, gemini_upstream, openai_upstream, responses_upstream
from tests.fakes.agent_turns import (
    AGENT_MODELS,
    AGENT_REASONING,
    AGENT_REPLY,
    ENCRYPTED,
    words,
)
from tests.fakes.openai_upstream import TOOL_CALL_ID
from tests.openai_spec import validate

PROMPT = "say hi please"  # 3 words
TARGETS = ["oresp", "fake", "claude", "gem"]
TRANSLATED = ["fake", "claude", "gem"]
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": WEATHER_SCHEMA,
}
CRM = {"type": "namespace", "name": "crm", "description": "CRM tools.", "tools": [WEATHER]}
WEB_SEARCH = {"type": "web_search", "external_web_access": False}
REASONING_WORDS = words(AGENT_REASONING)
REPLY_WORDS = words(AGENT_REPLY)
AGENT_WORDS = REASONING_WORDS + REPLY_WORDS  # reasoning is charged as output
CALL_WORDS = 2  # '{"city": "Paris"}', every fake's tool call arguments
MODELS = {"fake": "fake/fake-model", "claude": "claude/claude-fake", "gem": "gem/gemini-fake"}
SCHEMAS = {
    **EVENT_SCHEMAS,
    "response.reasoning_summary_part.added": "ResponseReasoningSummaryPartAddedEvent",
    "response.reasoning_summary_text.delta": "ResponseReasoningSummaryTextDeltaEvent",
    "response.reasoning_summary_text.done": "ResponseReasoningSummaryTextDoneEvent",
    "response.reasoning_summary_part.done": "ResponseReasoningSummaryPartDoneEvent",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    extra = {target: list(AGENT_MODELS) for target in TARGETS}
    async with multi_stack(request.param, tmp_path_factory.mktemp("agents"), extra) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def last_request(stack: MultiStack, target: str) -> dict[str, Any]:
    fake = {
        "oresp": stack.responses,
        "fake": stack.openai,
        "claude": stack.anthropic,
        "gem": stack.gemini,
    }[target]
    body: dict[str, Any] = fake.requests[-1].json
    return body


def prompt_words(target: str, body: dict[str, Any]) -> int:
    """The input tokens the fake reports for a request it received (its own count)."""
    if target == "oresp":
        return responses_upstream.prompt_word_count(body)
    if target == "fake":
        return openai_upstream.prompt_word_count(body["messages"])
    if target == "claude":
        return anthropic_upstream.prompt_word_count(body)
    return gemini_upstream.prompt_word_count(body)


def function_names(target: str, body: dict[str, Any]) -> list[str]:
    """The names of the functions a translated request declared, in the upstream's format."""
    if target == "fake":
        return [tool["function"]["name"] for tool in body.get("tools") or ()]
    if target == "claude":
        return [tool["name"] for tool in body.get("tools") or ()]
    return [d["name"] for tool in body.get("tools") or () for d in tool["functionDeclarations"]]


@pytest.mark.parametrize("target", TRANSLATED)
async def test_a_namespaced_tool_round_trips(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    """The fakes call the first function they are offered: the namespace's, by its chat name."""
    client = caller.client()
    tools: Any = [CRM]
    first = await client.responses.create(model=MODELS[target], input="Weather?", tools=tools)
    sent_first = last_request(stack, target)
    assert function_names(target, sent_first) == ["crm__get_weather"]
    (call,) = first.output
    assert call.type == "function_call"
    assert (call.namespace, call.name) == ("crm", "get_weather")
    assert [tool.type for tool in first.tools] == ["namespace"]

    history = [
        {"role": "user", "content": "Weather?"},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    async with client.responses.stream(model=MODELS[target], input=history, tools=tools) as stream:
        second = await stream.get_final_response()
    sent = last_request(stack, target)
    if target == "fake":
        assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "crm__get_weather"
        assert sent["messages"][2] == {
            "role": "tool",
            "tool_call_id": TOOL_CALL_ID,
            "content": "sunny",
        }
    elif target == "claude":
        assert sent["messages"][1]["content"][0]["name"] == "crm__get_weather"
    else:
        assert sent["contents"][1]["parts"][0]["functionCall"]["name"] == "crm__get_weather"
    (again,) = second.output
    assert (again.namespace, again.name) == ("crm", "get_weather")
    charged = cost(target, prompt_words(target, sent_first), CALL_WORDS)
    charged += cost(target, prompt_words(target, sent), CALL_WORDS)
    await caller.assert_books(calls=2, charged=charged)


@pytest.mark.parametrize("target", [*TRANSLATED, "strict"])
async def test_web_search_and_include_are_dropped_and_named(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    body: Any = {
        "input": PROMPT,
        "tools": [WEATHER, WEB_SEARCH],
        "include": ["reasoning.encrypted_content"],
        "tool_choice": "auto",
    }
    if target == "strict":  # a strict_fields row refuses what it would drop
        with pytest.raises(openai.BadRequestError) as caught:
            await caller.client().responses.create(model="strict/strict-model", **body)
        assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "include.0"
        await caller.assert_books(calls=1, charged=0)
        return
    raw = await caller.client().responses.with_raw_response.create(model=MODELS[target], **body)
    assert raw.headers["x-gatewayz-dropped"] == "include.0, tools.1"
    sent = last_request(stack, target)
    assert function_names(target, sent) == ["get_weather"]
    response = raw.parse()
    assert [tool.type for tool in response.tools] == ["function"]
    (log,) = await caller.assert_books(
        calls=1, charged=cost(target, prompt_words(target, sent), CALL_WORDS)
    )
    assert log["dropped"] == "include.0, tools.1"


def assert_valid(events: list[tuple[str, dict[str, Any]]]) -> None:
    for name, data in events:
        validate(SCHEMAS[name], data)
        validate("ResponseStreamEvent", data)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))


@pytest.mark.parametrize("target", TRANSLATED)
async def test_a_translated_reasoning_stream_reads_as_a_native_one(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    body: Any = {"input": PROMPT, "reasoning": {"summary": "auto"}, "max_output_tokens": 200}
    native = await raw_events(caller, {"model": "oresp/agent-reply", **body})
    charged = cost("oresp", prompt_words("oresp", last_request(stack, "oresp")), AGENT_WORDS)
    translated = await raw_events(caller, {"model": f"{target}/agent-reply", **body})
    charged += 2 * cost(target, prompt_words(target, last_request(stack, target)), AGENT_WORDS)
    assert_valid(native)
    assert_valid(translated)
    assert [name for name, _ in translated] == [name for name, _ in native]
    for events in (native, translated):
        deltas = [d["delta"] for n, d in events if n == "response.reasoning_summary_text.delta"]
        assert "".join(deltas) == AGENT_REASONING
        final = events[-1][1]["response"]
        assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
        assert final["output"][0]["summary"] == [{"type": "summary_text", "text": AGENT_REASONING}]
        assert final["output"][1]["content"][0]["text"] == AGENT_REPLY
        assert final["usage"]["output_tokens"] == AGENT_WORDS
    if target != "claude":  # Anthropic reports thinking inside output_tokens only
        usage = translated[-1][1]["response"]["usage"]
        assert usage["output_tokens_details"]["reasoning_tokens"] == REASONING_WORDS

    async with caller.client().responses.stream(model=f"{target}/agent-reply", **body) as stream:
        summary = "".join(
            [e.delta async for e in stream if e.type == "response.reasoning_summary_text.delta"]
        )
        response = await stream.get_final_response()
    assert summary == AGENT_REASONING
    assert response.output_text == AGENT_REPLY
    logs = await caller.assert_books(calls=3, charged=charged)
    assert [log["output_tokens"] for log in logs] == [AGENT_WORDS] * 3


async def test_encrypted_reasoning_replayed_reaches_a_native_upstream_only(
    stack: MultiStack, caller: Caller
) -> None:
    client = caller.client()
    body: Any = {"include": ["reasoning.encrypted_content"], "store": False}
    first = await client.responses.create(model="oresp/agent-reply", input=PROMPT, **body)
    charged = cost("oresp", prompt_words("oresp", last_request(stack, "oresp")), AGENT_WORDS)
    reasoning = first.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == ENCRYPTED
    history = [
        {"role": "user", "content": PROMPT},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"role": "user", "content": "and again"},
    ]
    raw = await client.responses.with_raw_response.create(
        model="oresp/agent-reply", input=history, **body
    )
    assert "x-gatewayz-dropped" not in raw.headers
    sent = last_request(stack, "oresp")
    assert sent["input"] == history  # passed through as sent
    charged += cost("oresp", prompt_words("oresp", sent), AGENT_WORDS)
    assert raw.parse().output_text == AGENT_REPLY

    translated = await client.responses.with_raw_response.create(
        model="fake/agent-reply", input=history, **body
    )
    assert translated.headers["x-gatewayz-dropped"] == "include.0, input.1"
    sent = last_request(stack, "fake")
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert ENCRYPTED not in json.dumps(sent) and AGENT_REASONING not in json.dumps(sent)
    charged += cost("fake", prompt_words("fake", sent), AGENT_WORDS)
    await caller.assert_books(calls=3, charged=charged)

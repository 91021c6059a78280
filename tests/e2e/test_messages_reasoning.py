"""Reasoning, effort, JSON mode and token counts between the Anthropic Messages API and the
other formats, with the official `anthropic` and `openai` SDKs: what the client sees, what the
upstream receives, and what the call costs."""

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from tests.e2e.multi_stack import REPLY, REPLY_TOKENS, MultiStack, cost, multi_stack
from tests.e2e.support import Caller
from tests.fakes.anthropic_upstream import THINKING
from tests.fakes.openai_upstream import REASONING, TOOL_ARGUMENTS

HI = [{"role": "user", "content": "say hi please"}]  # 3 words, 13 bytes
REASONING_WORDS = len(REASONING.split())
THINKING_WORDS = len(THINKING.split())
ADAPTIVE = {"type": "adaptive"}
EXTRA = {
    "fake": ["fake-reasoner"],
    "claude": ["claude-thinker"],
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async with multi_stack(request.param, tmp_path_factory.mktemp("multi"), EXTRA) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def claude(caller: Caller) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=caller.base_url, api_key=caller.api_key, max_retries=0, timeout=20
    )


def gateway_signed(signature: str) -> dict[str, Any]:
    """What a signature the gateway made carries (its provider, field and text)."""
    assert signature.startswith("gatewayz.1.")
    return orjson.loads(base64.urlsafe_b64decode(signature.removeprefix("gatewayz.1.")))


# --- An OpenAI-compatible reasoning model, for an Anthropic client -------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_arrives_as_a_thinking_block_and_is_charged_as_output(
    stack: MultiStack, caller: Caller, stream: bool
) -> None:
    client = claude(caller)
    request: dict[str, Any] = {
        "model": "fake/fake-reasoner",
        "max_tokens": 2000,
        "messages": HI,
        "thinking": ADAPTIVE,
    }
    if stream:
        async with client.messages.stream(**request) as events:
            message = await events.get_final_message()
    else:
        message = await client.messages.create(**request)
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == REASONING
    assert gateway_signed(thinking.signature) == {
        "p": "fake",
        "f": "reasoning_content",
        "t": REASONING,
    }
    assert text.type == "text" and text.text == REPLY
    output = REASONING_WORDS + REPLY_TOKENS
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, output)
    assert "reasoning_effort" not in stack.openai.requests[-1].json  # Anthropic's default
    await caller.assert_books(calls=1, charged=cost("fake", 3, output))


async def test_thinking_sent_back_reaches_its_provider_as_reasoning(
    stack: MultiStack, caller: Caller
) -> None:
    client = claude(caller)
    first = await client.messages.create(
        model="fake/fake-reasoner",
        max_tokens=2000,
        messages=HI,
        thinking={"type": "adaptive", "display": "omitted"},
        output_config={"effort": "low"},
    )
    assert first.content[0].type == "thinking" and first.content[0].thinking == ""
    turns = [
        *HI,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": "again"},
    ]
    await client.messages.create(
        model="fake/fake-reasoner", max_tokens=2000, messages=turns, thinking=ADAPTIVE
    )
    sent = stack.openai.requests[-2:]
    assert sent[0].json["reasoning_effort"] == "low"
    assert sent[1].json["messages"][1] == {
        "role": "assistant",
        "content": REPLY,
        "reasoning_content": REASONING,
    }
    raw = await client.messages.with_raw_response.create(
        model="claude/claude-fake", max_tokens=50, messages=turns
    )
    assert raw.headers["x-gatewayz-dropped"] == "messages.*.content.*.thinking"
    assert stack.anthropic.requests[-1].json["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": REPLY}],  # Anthropic refuses our signature
    }
    output = REASONING_WORDS + REPLY_TOKENS
    charged = cost("fake", 3, output) + cost("fake", 3 + 5 + 1, output) + cost("claude", 9, 5)
    await caller.assert_books(calls=3, charged=charged)


async def test_message_start_estimates_the_input_and_the_final_usage_is_exact(
    caller: Caller,
) -> None:
    body = {"model": "fake/fake-model", "max_tokens": 50, "messages": HI, "stream": True}
    async with (
        caller.http() as http,
        http.stream("POST", "/v1/messages?beta=true", json=body) as response,
    ):
        assert response.status_code == 200
        events = [
            orjson.loads(line[5:]) async for line in response.aiter_lines() if line[:5] == "data:"
        ]
    start, delta = events[0], events[-2]
    # 13 bytes of text at four a token, and 4 for the message: the documented estimate
    assert start["message"]["usage"]["input_tokens"] == 4 + 4
    assert delta["type"] == "message_delta"
    assert delta["usage"]["input_tokens"] == 3 and delta["usage"]["output_tokens"] == REPLY_TOKENS
    await caller.assert_books(calls=1, charged=cost("fake", 3, REPLY_TOKENS))


# --- An Anthropic model, for a chat client ------------------------------------------------


def chat_reasoning(message: Any) -> Any:
    return (message.model_extra or {}).get("reasoning_content")


async def test_reasoning_effort_is_a_thinking_budget_and_thinking_comes_back(
    stack: MultiStack, caller: Caller
) -> None:
    client = caller.client()
    answer = await client.chat.completions.create(
        model="claude/claude-thinker", messages=HI, max_tokens=10_000, reasoning_effort="medium"
    )
    message = answer.choices[0].message
    assert message.content == REPLY
    assert chat_reasoning(message) == THINKING
    sent = stack.anthropic.requests[-1].json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 5_000}
    assert sent["max_tokens"] == 10_000  # the limit held: it bounds the thinking too
    output = THINKING_WORDS + REPLY_TOKENS
    assert answer.usage is not None and answer.usage.completion_tokens == output
    chunks = [
        chunk
        async for chunk in await client.chat.completions.create(
            model="claude/claude-thinker",
            messages=HI,
            max_tokens=4_000,
            reasoning_effort="low",
            stream=True,
        )
    ]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(chat_reasoning(d) or "" for d in deltas) == THINKING
    assert "".join(d.content or "" for d in deltas) == REPLY
    assert stack.anthropic.requests[-1].json["thinking"]["budget_tokens"] == 1_024
    await caller.assert_books(calls=2, charged=2 * cost("claude", 3, output))


async def test_reasoning_effort_anthropic_refuses_with_sampling_is_dropped_and_named(
    stack: MultiStack, caller: Caller
) -> None:
    raw = await caller.client().chat.completions.with_raw_response.create(
        model="claude/claude-thinker", messages=HI, reasoning_effort="high", temperature=0.2
    )
    assert raw.headers["x-gatewayz-dropped"] == "reasoning_effort"
    assert "thinking" not in stack.anthropic.requests[-1].json
    assert raw.parse().choices[0].message.content == REPLY
    (log,) = await caller.logs(1)
    assert log["dropped"] == "reasoning_effort"


@pytest.mark.parametrize("stream", [False, True])
async def test_json_mode_answers_parseable_json(
    stack: MultiStack, caller: Caller, stream: bool
) -> None:
    client = caller.client()
    json_mode = {"type": "json_object"}
    if stream:
        chunks = [
            chunk
            async for chunk in await client.chat.completions.create(
                model="claude/claude-fake", messages=HI, response_format=json_mode, stream=True
            )
        ]
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        answer = await client.chat.completions.create(
            model="claude/claude-fake", messages=HI, response_format=json_mode
        )
        content, finish = answer.choices[0].message.content or "", answer.choices[0].finish_reason
        assert answer.choices[0].message.tool_calls is None
    assert json.loads(content) == json.loads(TOOL_ARGUMENTS)
    assert finish == "stop"
    sent = stack.anthropic.requests[-1].json
    assert sent["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert [tool["name"] for tool in sent["tools"]] == ["json_answer"]
    await caller.assert_books(calls=1, charged=cost("claude", 3, 2))


# --- count_tokens and anthropic-beta ------------------------------------------------------


async def test_count_tokens_is_anthropics_for_its_models_and_an_estimate_otherwise(
    stack: MultiStack, caller: Caller
) -> None:
    client = claude(caller)
    tools = [{"name": "get_weather", "description": "The weather.", "input_schema": {}}]
    native = await client.messages.count_tokens(
        model="claude/claude-fake", messages=HI, tools=tools, system="Be brief."
    )
    assert native.input_tokens == 3 + 2 + 3  # the fake's count: prompt, system, tool words
    sent = stack.anthropic.requests[-1]
    assert sent.path == "/v1/messages/count_tokens" and sent.json["model"] == "claude-fake"
    estimated = await client.messages.count_tokens(model="fake/fake-model", messages=HI)
    assert estimated.input_tokens == 4 + 4  # 13 bytes at four a token, 4 for the message
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.count_tokens(model="nobody/nothing", messages=HI)
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.count_tokens(model="fake/fake-model", messages=[])
    logs = await caller.assert_books(calls=2, charged=0)  # counting is free
    assert [log["api"] for log in logs] == ["messages.count_tokens"] * 2
    assert [log["provider"] for log in logs] == ["claude", "fake"]


async def test_only_betas_the_gateway_can_bill_reach_the_anthropic_upstream(
    stack: MultiStack, caller: Caller
) -> None:
    betas = "context-management-2025-06-27,context-1m-2025-08-07,effort-2025-11-24"
    body = {"model": "claude/claude-fake", "max_tokens": 50, "messages": HI}
    async with caller.http() as http:
        response = await http.post(
            "/v1/messages?beta=true", json=body, headers={"anthropic-beta": betas}
        )
    assert response.status_code == 200, response.text
    assert response.headers["x-gatewayz-dropped"] == "anthropic-beta.context-1m-2025-08-07"
    sent = stack.anthropic.requests[-1].headers
    assert sent["anthropic-beta"] == "context-management-2025-06-27,effort-2025-11-24"
    before = len(stack.anthropic.requests)
    async with caller.http() as http:
        strict = await http.post(
            "/v1/messages",
            json={**body, "model": "fake/fake-model"},
            headers={"anthropic-beta": betas},
        )
    assert strict.status_code == 200  # translated: the betas mean nothing to other formats
    assert "x-gatewayz-dropped" not in strict.headers
    assert len(stack.anthropic.requests) == before
    await caller.assert_books(calls=2, charged=cost("claude", 3, 5) + cost("fake", 3, 5))


async def test_a_mid_conversation_system_message_needs_its_beta_passed_on(
    stack: MultiStack, caller: Caller
) -> None:
    messages = [*HI, {"role": "system", "content": "Be brief."}]
    body = {"model": "claude/claude-fake", "max_tokens": 50, "messages": messages}
    async with httpx.AsyncClient(base_url=caller.base_url, timeout=20) as http:
        headers = {
            "x-api-key": caller.api_key,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "mid-conversation-tool-changes-2026-07-01",
        }
        response = await http.post("/v1/messages?beta=true", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["content"] == [{"type": "text", "text": REPLY}]
    await caller.assert_books(calls=1, charged=cost("claude", 3 + 2, 5))

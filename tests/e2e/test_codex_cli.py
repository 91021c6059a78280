"""The real Codex CLI (`codex exec`, a custom provider with `wire_api = "responses"`) through
Gatewayz, against each kind of upstream: a native Responses provider, and OpenAI chat-format,
Anthropic and Gemini providers the Responses API is translated onto. Codex's answer arrives
with the upstream's reasoning, a shell command the model asks for runs and its output goes
back, and every call is charged exactly what the upstream reported."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.codex_cli import CodexRun, run_codex
from tests.e2e.multi_stack import MultiStack, cost, multi_stack
from tests.e2e.support import Caller
from tests.fakes import agent_turns
from tests.fakes import anthropic_upstream as anthropic_fake
from tests.fakes import gemini_upstream as gemini_fake
from tests.fakes import openai_upstream as openai_fake
from tests.fakes import responses_upstream as responses_fake
from tests.fakes.agent_turns import (
    AGENT_DONE,
    AGENT_MODELS,
    AGENT_REASONING,
    AGENT_REPLY,
    ENCRYPTED,
    SHELL_COMMAND,
    SHELL_OUTPUT,
)
from tests.fakes.server import RecordedRequest

TARGETS = ["oresp", "fake", "claude", "gem"]
TRANSLATED = ["fake", "claude", "gem"]
# Upstreams that report reasoning tokens apart (Anthropic counts thinking in output_tokens).
REPORTS_REASONING = ["oresp", "fake", "gem"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    extra = {target: list(AGENT_MODELS) for target in TARGETS}
    async with multi_stack(request.param, tmp_path_factory.mktemp("codex"), extra) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def upstream_requests(stack: MultiStack, target: str) -> list[RecordedRequest]:
    fake = {
        "oresp": stack.responses,
        "fake": stack.openai,
        "claude": stack.anthropic,
        "gem": stack.gemini,
    }[target]
    return fake.requests


def billed(target: str, sent: RecordedRequest) -> int:
    """What one upstream call costs: the fake's own prompt count and the turn it answered."""
    body = sent.json
    if target == "oresp":
        tokens_in, turn = responses_fake.prompt_word_count(body), agent_turns.responses_turn(body)
    elif target == "fake":
        prompt = openai_fake.prompt_word_count(body["messages"])
        tokens_in, turn = prompt, agent_turns.chat_turn(body)
    elif target == "claude":
        tokens_in, turn = anthropic_fake.prompt_word_count(body), agent_turns.messages_turn(body)
    else:
        model = sent.path.rsplit("/", 1)[-1].partition(":")[0]
        tokens_in, turn = gemini_fake.prompt_word_count(body), agent_turns.gemini_turn(model, body)
    assert turn is not None
    return cost(target, tokens_in, turn.output_tokens)


async def codex(
    stack: MultiStack, caller: Caller, tmp_path: Path, model: str, prompt: str
) -> CodexRun:
    run = await run_codex(
        tmp_path / "codex-home", tmp_path / "work", stack.base_url, model, caller.api_key, prompt
    )
    assert run.returncode == 0, "\n".join(map(str, run.events)) + run.stderr[-2000:]
    return run


def assert_translated_request(target: str, body: dict[str, Any]) -> None:
    """Codex's tools reached the model as functions (namespaces flattened, web_search left
    out) and its effort as the chat request's reasoning_effort."""
    if target == "fake":
        names = [tool["function"]["name"] for tool in body["tools"]]
        assert body["reasoning_effort"] == "low"
        assert body["prompt_cache_key"]
        assert body["parallel_tool_calls"] is True
    elif target == "claude":
        names = [tool["name"] for tool in body["tools"]]
    else:
        (tools,) = body["tools"]
        names = [declaration["name"] for declaration in tools["functionDeclarations"]]
    assert "exec_command" in names
    assert any("__" in name for name in names), names  # a namespace's functions
    assert "web_search" not in names


@pytest.mark.parametrize("target", TARGETS)
async def test_codex_answers_through_each_upstream(
    stack: MultiStack, caller: Caller, tmp_path: Path, target: str
) -> None:
    before = len(upstream_requests(stack, target))
    run = await codex(stack, caller, tmp_path, f"{target}/agent-reply", "Say hello.")
    assert run.answer == AGENT_REPLY
    assert [item["text"] for item in run.items("reasoning")] == [AGENT_REASONING.strip()]
    if target in REPORTS_REASONING:
        assert run.usage["reasoning_output_tokens"] == len(AGENT_REASONING.split())
    (sent,) = upstream_requests(stack, target)[before:]
    if target == "oresp":
        assert sent.json["include"] == ["reasoning.encrypted_content"]
        assert sent.json["store"] is False
        assert sent.json["reasoning"] == {"effort": "low", "summary": "auto"}
        assert all(tool.get("type") != "web_search" for tool in sent.json["tools"])
    else:
        assert_translated_request(target, sent.json)
    (log,) = await caller.assert_books(calls=1, charged=billed(target, sent))
    assert log["status_code"] == 200
    dropped = log["dropped"].split(", ")
    assert any(name.startswith("tools.") for name in dropped)  # the web_search tool
    if target in TRANSLATED:
        assert {"include.0", "client_metadata"} <= set(dropped)


@pytest.mark.parametrize("target", TARGETS)
async def test_codex_runs_a_shell_command_and_finishes(
    stack: MultiStack, caller: Caller, tmp_path: Path, target: str
) -> None:
    before = len(upstream_requests(stack, target))
    run = await codex(stack, caller, tmp_path, f"{target}/agent-shell", "Run the echo command.")
    (command,) = run.items("command_execution")
    assert SHELL_COMMAND in command["command"]
    assert (command["exit_code"], command["aggregated_output"].strip()) == (0, SHELL_OUTPUT)
    assert run.answer == AGENT_DONE  # the fake saw the command's output
    first, second = upstream_requests(stack, target)[before:]
    if target == "oresp":
        replayed = [item for item in second.json["input"] if item.get("type") == "reasoning"]
        assert [item["encrypted_content"] for item in replayed] == [ENCRYPTED]
        outputs = [i for i in second.json["input"] if i.get("type") == "function_call_output"]
        assert SHELL_OUTPUT in outputs[0]["output"]
    logs = await caller.assert_books(
        calls=2, charged=billed(target, first) + billed(target, second)
    )
    assert [log["status_code"] for log in logs] == [200, 200]
    if target in TRANSLATED:  # the reasoning item Codex replays is named, not sent
        assert any(name.startswith("input.") for name in logs[1]["dropped"].split(", "))

"""Claude Code (`claude -p`, the pinned @anthropic-ai/claude-code in tests/clients) against the
gateway, in front of an OpenAI-format, an Anthropic-format and a Gemini-format upstream: a tool
loop run to its end (the model asks for Bash, Claude Code runs it and sends the result, the model
answers with it), the answer printed, every call charged exactly what the upstream reported.

Claude Code runs with a temporary HOME, telemetry, updates and other traffic off, and talks
only to the gateway on 127.0.0.1.
"""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.e2e.multi_stack import MultiStack, cost, multi_stack
from tests.e2e.support import Caller
from tests.fakes import anthropic_upstream, gemini_upstream, openai_upstream
from tests.fakes.openai_upstream import BASH_INPUT, TOOL_MARKER, count_words, tool_answer
from tests.fakes.server import RecordedRequest

CLAUDE = Path(__file__).parents[1] / "clients" / "node_modules" / ".bin" / "claude"
PROMPT = "Run the Bash tool, then tell me what it printed."
ANSWER = tool_answer(TOOL_MARKER)
BASH_WORDS = count_words(json.dumps(BASH_INPUT))
ANSWER_WORDS = count_words(ANSWER)
MODELS = {
    "fake": "fake/fake-bash-agent",
    "claude": "claude/claude-bash-agent",
    "gem": "gem/gemini-bash-agent",
}
EXTRA = {"fake": ["fake-bash-agent"], "claude": ["claude-bash-agent"], "gem": ["gemini-bash-agent"]}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    if not CLAUDE.exists():
        message = f"{CLAUDE} is missing: run `make tests/clients/node_modules/.installed`"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    async with multi_stack(request.param, tmp_path_factory.mktemp("multi"), EXTRA) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


async def claude_p(
    caller: Caller, model: str, tmp_path: Path, key_variable: str, *options: str
) -> str:
    """What `claude -p` prints for PROMPT, allowed to run Bash, against the gateway."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": caller.base_url,
        key_variable: caller.api_key,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    process = await asyncio.create_subprocess_exec(
        str(CLAUDE),
        *("-p", PROMPT, "--model", model, "--allowedTools", "Bash", *options),
        cwd=work,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return out.decode()


def _fake(stack: MultiStack, provider: str) -> Any:
    return {"fake": stack.openai, "claude": stack.anthropic, "gem": stack.gemini}[provider]


def _usage(provider: str, request: RecordedRequest, called: bool) -> tuple[int, int]:
    """The usage the fake reports for one request (`called`: it answered with the Bash call),
    counted here from what it received, by its documented rules."""
    body = request.json
    answer = BASH_WORDS if called else ANSWER_WORDS
    if provider == "fake":
        reasoning = len(openai_upstream.REASONING.split())
        return openai_upstream.prompt_word_count(body["messages"]), reasoning + answer
    if provider == "claude":
        thinking = (
            len(anthropic_upstream.THINKING.split()) if anthropic_upstream.thinks(body) else 0
        )
        return anthropic_upstream.prompt_word_count(body), thinking + answer
    config = body.get("generationConfig") or {}
    thoughts = (config.get("thinkingConfig") or {}).get("includeThoughts")
    thought = len(gemini_upstream.THOUGHT.split()) if thoughts else 0
    return gemini_upstream.prompt_word_count(body), thought + answer


@pytest.mark.parametrize(
    ("provider", "key_variable", "options"),
    [
        ("fake", "ANTHROPIC_AUTH_TOKEN", ["--effort", "low"]),
        ("claude", "ANTHROPIC_API_KEY", []),
        ("gem", "ANTHROPIC_API_KEY", []),
    ],
    ids=["openai-format", "anthropic", "gemini"],
)
async def test_claude_code_runs_a_tool_loop_to_its_answer_and_is_charged(
    stack: MultiStack,
    caller: Caller,
    tmp_path: Path,
    provider: str,
    key_variable: str,
    options: list[str],
) -> None:
    fake = _fake(stack, provider)
    before = len(fake.requests)
    printed = await claude_p(caller, MODELS[provider], tmp_path, key_variable, *options)
    assert printed.strip() == ANSWER
    first, second = fake.requests[before:]
    assert TOOL_MARKER not in json.dumps(first.json)
    assert TOOL_MARKER in json.dumps(second.json)  # Claude Code ran Bash and sent its output
    charged = sum(
        cost(provider, *_usage(provider, request, called))
        for request, called in ((first, True), (second, False))
    )
    logs = await caller.assert_books(calls=2, charged=charged)
    assert [(log["api"], log["stream"], log["status_code"]) for log in logs] == [
        ("messages", True, 200)
    ] * 2
    CHECKS[provider](first, second, logs)


def _translated_to_chat(
    first: RecordedRequest, second: RecordedRequest, logs: list[dict[str, Any]]
) -> None:
    assert first.json["reasoning_effort"] == "low"  # --effort low
    names = [tool["function"]["name"] for tool in first.json["tools"]]
    assert "Bash" in names and "DeferredToolPlaceholder" not in names
    called = next(m for m in second.json["messages"] if m.get("tool_calls"))
    assert called["reasoning_content"] == openai_upstream.REASONING  # sent back, as it came
    assert called["tool_calls"][0]["function"]["name"] == "Bash"
    for log in logs:
        assert "context_management" in log["dropped"]


def _passed_through(
    first: RecordedRequest, second: RecordedRequest, logs: list[dict[str, Any]]
) -> None:
    betas = first.headers["anthropic-beta"].split(",")
    assert "claude-code-20250219" in betas and "context-management-2025-06-27" in betas
    assert first.query == {} and first.json["thinking"]["type"] == "adaptive"
    called = next(
        m for m in second.json["messages"] if m["role"] == "assistant" and m["content"][-1:]
    )
    assert called["content"][0]["type"] == "thinking"  # replayed with its signature
    assert called["content"][-1]["name"] == "Bash"
    assert [log["dropped"] for log in logs] == [None, None]


def _translated_to_gemini(
    first: RecordedRequest, second: RecordedRequest, logs: list[dict[str, Any]]
) -> None:
    declared = [d["name"] for d in first.json["tools"][0]["functionDeclarations"]]
    assert "Bash" in declared
    assert "thinkingConfig" not in first.json.get("generationConfig", {})  # the model's own
    parts = second.json["contents"][-1]["parts"]
    assert any("functionResponse" in part for part in parts)
    for log in logs:
        assert "context_management" in log["dropped"]


CHECKS = {"fake": _translated_to_chat, "claude": _passed_through, "gem": _translated_to_gemini}

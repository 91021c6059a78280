"""Streams the client cuts before the upstream reported usage, through every client API and
every kind of upstream: charged for every generated token the gateway saw (content, reasoning,
tool names and arguments), by the documented estimate, with the input side as the upstream
reported it where it did.

The fakes' `*-stall-<kind>-<n>` models send their first n deltas, then nothing until the
gateway hangs up; each test reads those n deltas as a client, then closes the connection.
"""

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.multi_stack import WEATHER_SCHEMA, MultiStack, cost, multi_stack
from tests.e2e.support import Caller
from tests.fakes.anthropic_upstream import THINKING, TOOL_INPUT_FRAGMENTS
from tests.fakes.openai_upstream import REASONING, TOOL_ARGUMENT_FRAGMENTS
from tests.fakes.responses_upstream import CALL_ARGUMENT_FRAGMENTS
from tests.fakes.responses_upstream import REASONING as SUMMARY

EXTRA_MODELS = {
    "fake": ["fake-stall-text-3", "fake-stall-reasoning-4", "fake-stall-tools-2"],
    "claude": [
        "claude-stall-text-0",
        "claude-stall-text-3",
        "claude-stall-thinking-4",
        "claude-stall-tools-2",
    ],
    "gem": ["gemini-stall-thought-4", "gemini-stall-text-0"],
    "oresp": ["resp-stall-text-3", "resp-stall-reasoning-4", "resp-stall-tools-2"],
}
HI = [{"role": "user", "content": "say hi please"}]  # 3 words
PROMPT_WORDS = 3
TEXT = ["This ", "is ", "a "]  # the first three words of the fakes' reply


def words(sentence: str, count: int) -> list[str]:
    """The first `count` words of `sentence` as the fakes stream them (trailing space kept)."""
    pieces = [word + " " for word in sentence.split(" ")]
    pieces[-1] = pieces[-1].rstrip()
    return pieces[:count]


def estimated_output(pieces: list[str]) -> int:
    """The documented estimate, computed here independently: the larger of the number of
    pieces of generated text and their UTF-8 bytes / 4, rounded up."""
    return max(len(pieces), math.ceil(sum(len(p.encode()) for p in pieces) / 4))


@dataclass(frozen=True)
class Cut:
    """One stream to cut: where it goes, after how many visible deltas, and what the gateway
    saw by then."""

    api: str
    model: str
    seen: list[str]
    visible: int
    tools: bool = False
    reported_input: int | None = None  # what the upstream reported before the cut
    reported_output: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def provider(self) -> str:
        return self.model.split("/")[0]


CHAT_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}
]
MESSAGES_TOOLS = [{"name": "get_weather", "input_schema": WEATHER_SCHEMA}]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}]
CHAT_CALL = ["get_weather", *TOOL_ARGUMENT_FRAGMENTS[:2]]
CUTS = {
    # OpenAI chat clients
    "chat-text": Cut("chat", "fake/fake-stall-text-3", TEXT, 3),
    "chat-reasoning": Cut("chat", "fake/fake-stall-reasoning-4", words(REASONING, 4), 4),
    "chat-tools": Cut("chat", "fake/fake-stall-tools-2", CHAT_CALL, 2, tools=True),
    "chat-anthropic-thinking": Cut("chat", "claude/claude-stall-thinking-4", words(THINKING, 4), 4),
    "chat-anthropic-tools": Cut(
        "chat", "claude/claude-stall-tools-2", ["get_weather", *TOOL_INPUT_FRAGMENTS], 3, tools=True
    ),
    "chat-gemini-thoughts": Cut("chat", "gem/gemini-stall-thought-4", words(THINKING, 4), 4),
    # Anthropic clients: native upstream (input tokens reported in message_start) and translated
    "messages-native-before-any-text": Cut(
        "messages",
        "claude/claude-stall-text-0",
        [],
        0,
        reported_input=PROMPT_WORDS,
        reported_output=1,  # message_start's placeholder
    ),
    "messages-native-text": Cut(
        "messages", "claude/claude-stall-text-3", TEXT, 3, reported_input=PROMPT_WORDS
    ),
    "messages-native-thinking": Cut(
        "messages",
        "claude/claude-stall-thinking-4",
        words(THINKING, 4),
        4,
        reported_input=PROMPT_WORDS,
    ),
    "messages-native-tools": Cut(
        "messages",
        "claude/claude-stall-tools-2",
        ["get_weather", *TOOL_INPUT_FRAGMENTS],
        2,
        tools=True,
        reported_input=PROMPT_WORDS,
    ),
    "messages-translated-text": Cut("messages", "fake/fake-stall-text-3", TEXT, 3),
    "messages-translated-reasoning": Cut(
        "messages", "fake/fake-stall-reasoning-4", words(REASONING, 4), 0
    ),
    "messages-translated-tools": Cut(
        "messages", "fake/fake-stall-tools-2", CHAT_CALL, 2, tools=True
    ),
    # Responses clients: native upstream and translated
    "responses-native-text": Cut("responses", "oresp/resp-stall-text-3", TEXT, 3),
    "responses-native-reasoning": Cut(
        "responses", "oresp/resp-stall-reasoning-4", words(SUMMARY, 4), 4
    ),
    "responses-native-tools": Cut(
        "responses",
        "oresp/resp-stall-tools-2",
        ["get_weather", *CALL_ARGUMENT_FRAGMENTS[:2]],
        2,
        tools=True,
    ),
    "responses-translated-text": Cut("responses", "fake/fake-stall-text-3", TEXT, 3),
    "responses-translated-reasoning": Cut(
        "responses", "fake/fake-stall-reasoning-4", words(REASONING, 4), 0
    ),
    "responses-translated-tools": Cut(
        "responses", "fake/fake-stall-tools-2", CHAT_CALL, 2, tools=True
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async with multi_stack(request.param, tmp_path_factory.mktemp("cut"), EXTRA_MODELS) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def request_of(cut: Cut) -> tuple[str, dict[str, Any]]:
    """The path and body of the streamed request `cut` sends."""
    if cut.api == "chat":
        body: dict[str, Any] = {"model": cut.model, "messages": HI, "stream": True}
        return "/v1/chat/completions", body | ({"tools": CHAT_TOOLS} if cut.tools else {})
    if cut.api == "messages":
        body = {"model": cut.model, "max_tokens": 100, "messages": HI, "stream": True}
        return "/v1/messages", body | ({"tools": MESSAGES_TOOLS} if cut.tools else {})
    body = {"model": cut.model, "input": "say hi please", "stream": True}
    return "/v1/responses", body | ({"tools": RESPONSES_TOOLS} if cut.tools else {})


def is_visible_delta(api: str, name: str | None, data: Any) -> bool:
    """Whether a client event carries generated text (what the client counts before it cuts)."""
    if api == "chat":
        if not isinstance(data, dict) or not data.get("choices"):
            return False
        delta = data["choices"][0].get("delta") or {}
        return bool(
            delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls")
        )
    if api == "messages":
        return name == "content_block_delta"
    return name is not None and name.endswith(".delta")


async def read_then_hang_up(response: httpx.Response, cut: Cut) -> None:
    """Read events until `cut.visible` deltas have arrived (or, when the client sees none, the
    first event and a moment for the gateway to read the rest), then return to hang up."""
    assert response.status_code == 200, await response.aread()
    seen, name, data = 0, None, []
    async with asyncio.timeout(5):
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                payload = orjson.loads(data[0]) if data[0] != "[DONE]" else None
                seen += is_visible_delta(cut.api, name, payload)
                name, data = None, []
                if seen >= cut.visible:
                    break
    if cut.visible == 0:
        await asyncio.sleep(0.5)  # the deltas the client never sees were sent with the first


@pytest.mark.parametrize("case", list(CUTS))
async def test_a_cut_stream_is_charged_for_every_token_the_gateway_saw(
    stack: MultiStack, caller: Caller, case: str
) -> None:
    cut = CUTS[case]
    path, body = request_of(cut)
    raw = orjson.dumps(body)
    headers = {"content-type": "application/json"}
    async with (
        caller.http() as http,
        http.stream("POST", path, content=raw, headers=headers) as response,
    ):
        await read_then_hang_up(response, cut)
    input_tokens = cut.reported_input or max(1, len(raw) // 4)
    output_tokens = max(cut.reported_output, estimated_output(cut.seen))
    charge = cost(cut.provider, input_tokens, output_tokens)
    (log,) = await caller.assert_books(calls=1, charged=charge)
    assert log["status_code"] == 499
    assert log["usage_estimated"] is True
    assert (log["input_tokens"], log["output_tokens"]) == (input_tokens, output_tokens)


async def test_a_stream_left_before_its_first_event_is_charged_its_input(
    stack: MultiStack, caller: Caller
) -> None:
    # The upstream has answered (200, event stream) but sends nothing: the client sees nothing.
    body = {"model": "gem/gemini-stall-text-0", "messages": HI, "stream": True}
    raw = orjson.dumps(body)
    before = len(stack.gemini.requests)
    async with caller.http() as http:
        call = asyncio.create_task(
            http.post(
                "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
            )
        )
        async with asyncio.timeout(5):
            while len(stack.gemini.requests) == before:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the upstream's headers reach the gateway
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
    input_tokens = max(1, len(raw) // 4)
    (log,) = await caller.assert_books(calls=1, charged=cost("gem", input_tokens, 0))
    assert (log["status_code"], log["usage_estimated"]) == (499, True)
    assert (log["input_tokens"], log["output_tokens"]) == (input_tokens, 0)

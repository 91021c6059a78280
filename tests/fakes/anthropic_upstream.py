"""A fake Anthropic Messages API upstream: a real HTTP server on 127.0.0.1 for the gateway's tests.

The wire format follows docs.anthropic.com (Messages, streaming, errors) and the ``anthropic``
SDK's ``types/raw_*.py``. The requested model name selects the behaviour:

- any ordinary name (``claude-fake``): a ``Message`` with one text block and ``end_turn``;
  a request with ``tools`` gets one ``tool_use`` block for the first tool instead (``tool_use``).
  A ``max_tokens`` below the reply's word count cuts the reply there (``max_tokens``).
- ``claude-tool-then-text``: as an ordinary name, except that a request whose last message
  holds a ``tool_result`` block gets the reply text (the end of a tool loop).
- ``fake-error-<status>``: that HTTP status with Anthropic's error body (429 adds
  ``retry-after: 1``; 529 is ``overloaded_error``).
- ``fake-slow-<ms>``: nothing is sent for that long; streams also wait that long between events.
- ``fake-truncate``: the body stops halfway (a stream: after two text deltas, with no
  ``message_delta``/``message_stop``) and the connection is closed.
- ``fake-stream-error``: a stream sends one text delta, then an ``error`` event
  (``overloaded_error``) and ends; unstreamed it answers normally.
- ``claude-stall-<kind>-<n>``: a stream that sends ``message_start`` (with the real
  ``input_tokens``), its block's start, a ping and the block's first ``n`` deltas at once, then
  nothing until the gateway hangs up (at most ``STALL_SECONDS``, then the rest). Kinds:
  ``text`` (the reply), ``thinking`` (a ``thinking`` block: ``THINKING`` a word per
  ``thinking_delta``), ``tools`` (a ``tool_use`` block for the request's first tool, or
  ``get_weather``: ``TOOL_INPUT_FRAGMENTS``).
- ``fake-overbill``: a normal answer whose usage reports ``OVERBILL_TOKENS`` output tokens,
  whatever ``max_tokens`` it was sent (an upstream billing past the limits it was given).
- ``claude-thinker``: with ``thinking`` enabled (or adaptive), a ``thinking`` block (``THINKING``,
  a word per ``thinking_delta``; empty with ``display: "omitted"``) signed by the fake, then the
  reply; its words count as output (``output_tokens_details.thinking_tokens`` says how many).
  Like the real API it refuses ``budget_tokens`` below 1,024 or not below ``max_tokens``, and a
  ``temperature`` other than 1 or ``top_k`` with thinking.
- ``claude-bash-agent``: what a coding agent's model does: given a tool named ``Bash`` and no
  tool result yet, it thinks (as ``claude-thinker``) and calls ``Bash`` with ``BASH_INPUT``;
  given the result, it answers ``tool_answer(result)``. With thinking on, the assistant turn that
  called the tool must come back starting with its thinking block (400 otherwise).

Thinking blocks sent back must carry a signature this fake made (400 ``Invalid `signature` in
`thinking` block`` otherwise), as the real API checks. Messages of role ``system`` after the
first are accepted with the ``mid-conversation-tool-changes`` beta (``anthropic-beta``), as
Claude Code sends them. ``POST /v1/messages/count_tokens`` answers ``{"input_tokens"}``: the
words of the prompt and of the tools' names and descriptions.
- ``agent-reply``, ``agent-shell``: a coding agent's turns, a ``thinking`` block first
  (tests/fakes/agent_turns.py).
- ``claude-cached``: a normal answer whose usage reports the words of ``system`` as read from
  the prompt cache (``cache_read_input_tokens``) and those of the first message as written to
  it (``cache_creation_input_tokens``; half of them, rounded down, for an hour in
  ``cache_creation.ephemeral_1h_input_tokens``, the rest for five minutes), all beside
  ``input_tokens``, as Anthropic reports them; a stream's ``message_delta`` repeats the
  cumulative counts without the split, as the current API does.

Every request needs ``x-api-key: <api_key>`` or ``Authorization: Bearer <api_key>`` (401
``authentication_error`` otherwise) and an ``anthropic-version`` header (400 otherwise). Every
response carries a ``request-id`` header, and every error body its ``request_id``.

Usage is deterministic: ``input_tokens`` is the number of whitespace-separated words in
``system`` and in every message's text (string content, ``text`` blocks and ``tool_result``
content); ``output_tokens`` the words of the reply (for a tool call, of its JSON input). A
streamed reply arrives one word per ``text_delta``, each word keeping its trailing space.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import re
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import agent_turns
from tests.fakes.openai_upstream import (
    BASH_INPUT,
    OVERBILL_TOKENS,
    count_words,
    tool_answer,
)
from tests.fakes.server import (
    FakeServer,
    RecordedRequest,
    close_connection,
    open_event_stream,
    record,
    wait_for_hangup,
)

MODELS = (
    "claude-fake",
    "fake-truncate",
    "fake-stream-error",
    "fake-slow-100",
    "fake-error-400",
    "fake-error-429",
    "fake-error-529",
    "claude-thinker",
    "claude-bash-agent",
)
MODELS_CREATED_AT = "2025-01-01T00:00:00Z"
TOOL_USE_ID = "toolu_fake_1"
TOOL_INPUT: dict[str, Any] = {"city": "Paris"}
TOOL_INPUT_JSON = '{"city": "Paris"}'
TOOL_INPUT_FRAGMENTS = ('{"city": ', '"Paris"}')
THINKING = "Let me think this through carefully first."
_THINKERS = ("claude-thinker", "claude-bash-agent")
_MID_CONVERSATION_SYSTEM = "mid-conversation-tool-changes"
STALL_SECONDS = 10.0

# Set per request by the middleware; aiohttp runs a request's handler and prepare in one task.
_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("anthropic_fake_request_id")
_ERROR_MODEL = re.compile(r"fake-error-(\d{3})")
_SLOW_MODEL = re.compile(r"fake-slow-(\d+)")
_STALL_MODEL = re.compile(r"claude-stall-(text|thinking|tools)-(\d+)")
_REPLY_PIECE = re.compile(r"\s*\S+\s*")

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "The fake upstream rejected this request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def error_type(status: int) -> str:
    """Anthropic's error ``type`` for an HTTP status."""
    if status in _ERRORS:
        return _ERRORS[status][0]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str | None = None, request_id: str = "") -> bytes:
    """Anthropic error body for ``status``."""
    default = _ERRORS.get(status, ("", "The fake upstream returned an error."))[1]
    error = {"type": error_type(status), "message": message or default}
    return orjson.dumps({"type": "error", "error": error, "request_id": request_id})


def _text_words(content: Any) -> int:
    """Words in a string, or in the text (and tool_result content) of a list of blocks."""
    if isinstance(content, str):
        return count_words(content)
    total = 0
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            total += count_words(block["text"])
        if block.get("type") == "tool_result":
            total += _text_words(block.get("content"))
    return total


def prompt_word_count(body: dict[str, Any]) -> int:
    """Words in ``system`` and across every message's text content."""
    total = _text_words(body.get("system"))
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            total += _text_words(message.get("content"))
    return total


def validation_error(
    body: dict[str, Any], betas: str = "", signatures: frozenset[str] = frozenset()
) -> str | None:
    """The message of the 400 the real API gives this body, or None when it is acceptable
    (`betas`: the anthropic-beta header; `signatures`: the thinking signatures it made)."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return "max_tokens: Field required"
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Input should be a valid integer greater than or equal to 1"
    messages = body.get("messages")
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    previous = None
    system_allowed = _MID_CONVERSATION_SYSTEM in betas
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system" and system_allowed and index > 0:
            continue
        if role not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        if "content" not in message:
            return f"messages.{index}.content: Field required"
        if index == 0 and role != "user":
            return 'messages: first message must use the "user" role'
        if role == previous:
            return (
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        previous = role
        if role == "assistant" and (problem := _signature_error(message, index, signatures)):
            return problem
    return thinking_error(body)


def _signature_error(message: dict[str, Any], index: int, signatures: frozenset[str]) -> str | None:
    content = message.get("content")
    for j, block in enumerate(content if isinstance(content, list) else ()):
        thinking = isinstance(block, dict) and block.get("type") == "thinking"
        if thinking and block.get("signature") not in signatures:
            return f"messages.{index}.content.{j}: Invalid `signature` in `thinking` block"
    return None


def thinking_error(body: dict[str, Any]) -> str | None:
    """The 400 the real API gives a thinking configuration it refuses, or None."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if budget >= body["max_tokens"]:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    if body.get("temperature") not in (None, 1) or body.get("top_k") is not None:
        return "`temperature` may only be set to 1 when thinking is enabled"
    return None


def thinks(body: dict[str, Any]) -> bool:
    """Whether a request turns thinking on."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _last_tool_result(body: dict[str, Any]) -> str | None:
    """The text of the tool results in the last message, if it holds any."""
    last = body["messages"][-1]
    content = last.get("content") if isinstance(last, dict) else None
    results = [
        block
        for block in (content if isinstance(content, list) else ())
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    return orjson.dumps(results).decode() if results else None


def _sse(event: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class FakeAnthropicUpstream(FakeServer):
    """Anthropic-format upstream on an ephemeral 127.0.0.1 port; see the module docstring."""

    url_path = "/v1"

    def __init__(self, api_key: str = "sk-ant-fake", reply: str = "This is a fake reply.") -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.requests: list[RecordedRequest] = []
        self.signatures: set[str] = set()
        self._ids = itertools.count(1)

    def configure(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)
        app.middlewares.append(self._record_and_authenticate)
        app.on_response_prepare.append(_add_request_id)

    @web.middleware
    async def _record_and_authenticate(
        self, request: web.Request, handler: Any
    ) -> web.StreamResponse:
        sent = await record(request)
        self.requests.append(sent)
        headers = sent.headers
        _REQUEST_ID.set(f"req_fake{next(self._ids):06d}")
        key = headers.get("x-api-key")
        if key is None and headers.get("authorization", "").startswith("Bearer "):
            key = headers["authorization"].removeprefix("Bearer ")
        if key is None:
            return _error(401, "x-api-key header is required")
        if key != self.api_key:
            return _error(401, "invalid x-api-key")
        if "anthropic-version" not in headers:
            return _error(400, "anthropic-version: header is required")
        if request.method == "POST" and not isinstance(sent.json, dict):
            return _error(400, "The request body is not valid JSON.")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, exc.reason)

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {
                "type": "model",
                "id": model,
                "display_name": model.replace("-", " ").title(),
                "created_at": MODELS_CREATED_AT,
                "lifecycle": "active",
            }
            for model in MODELS
        ]
        payload = {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
        return web.json_response(payload, dumps=_dumps)

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body = await request.json(loads=orjson.loads)
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
            return _error(400, "model and messages: Field required")
        tools = sum(
            count_words(str(tool.get("name", ""))) + count_words(str(tool.get("description", "")))
            for tool in body.get("tools") or ()
            if isinstance(tool, dict)
        )
        return web.json_response({"input_tokens": prompt_word_count(body) + tools})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=orjson.loads)
        betas = request.headers.get("anthropic-beta", "")
        if problem := validation_error(body, betas, frozenset(self.signatures)):
            return _error(400, problem)
        if self._agent_turn_lost_its_thinking(body):
            return _error(400, _LOST_THINKING)
        model = body["model"]
        if error := _ERROR_MODEL.fullmatch(model):
            return _error(int(error.group(1)))
        delay = int(slow.group(1)) / 1000 if (slow := _SLOW_MODEL.fullmatch(model)) else 0.0
        if delay:
            await asyncio.sleep(delay)
        if (turn := agent_turns.messages_turn(body)) is not None:
            return await _agent(request, body, turn)
        answer = _Answer(self, body)
        if body.get("stream"):
            return await answer.stream(request, delay)
        return await answer.respond(request)

    @staticmethod
    def _agent_turn_lost_its_thinking(body: dict[str, Any]) -> bool:
        """With thinking on, an assistant turn with a tool call must start with its thinking."""
        if body["model"] != "claude-bash-agent" or not thinks(body):
            return False
        for message in body["messages"]:
            content = message.get("content") if message.get("role") == "assistant" else None
            calls = isinstance(content, list) and any(b.get("type") == "tool_use" for b in content)
            if calls and content[0].get("type") not in ("thinking", "redacted_thinking"):
                return True
        return False


_LOST_THINKING = (
    "messages: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When "
    "`thinking` is enabled, a final `assistant` message must start with a thinking block."
)


async def _agent(
    request: web.Request, body: dict[str, Any], turn: agent_turns.AgentTurn
) -> web.StreamResponse:
    tokens = prompt_word_count(body)
    if not body.get("stream"):
        return web.json_response(agent_turns.message(turn, body, tokens), dumps=_dumps)
    response = await open_event_stream(request)
    for event, data in agent_turns.message_events(turn, body, tokens):
        await response.write(_sse(event, data))
    await response.write_eof()
    return response


def _answers_a_tool(messages: Any) -> bool:
    """Whether the last message holds a tool_result block."""
    last = messages[-1] if isinstance(messages, list) and messages else {}
    content = last.get("content") if isinstance(last, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


class _Answer:
    """One Messages answer, rendered whole or as a stream of events."""

    def __init__(self, upstream: FakeAnthropicUpstream, body: dict[str, Any]) -> None:
        self.model: str = body["model"]
        self.id = f"msg_fake{next(upstream._ids):06d}"
        tools = body.get("tools")
        self.tool_name: str | None = None
        self.tool_input: dict[str, Any] = dict(TOOL_INPUT)
        if isinstance(tools, list) and tools and isinstance(tools[0], dict):
            self.tool_name = str(tools[0].get("name"))
        if self.model == "claude-tool-then-text" and _answers_a_tool(body["messages"]):
            self.tool_name = None
        stall = _STALL_MODEL.fullmatch(self.model)
        self.stall = (stall.group(1), int(stall.group(2))) if stall else None
        if self.stall and self.stall[0] == "tools":
            self.tool_name = self.tool_name or "get_weather"
        self.thinking = bool(self.stall and self.stall[0] == "thinking")
        reply = upstream.reply
        self.thought: list[str] = []  # the thinking block before the answer, if any
        self.signature = ""
        self.show_thought = True
        if self.model in _THINKERS:
            self.tool_name = self._agent_tool(body)
            result = _last_tool_result(body) if self.model == "claude-bash-agent" else None
            reply = tool_answer(result) if result is not None else reply
            if thinks(body):
                self.thought = _REPLY_PIECE.findall(THINKING)
                self.signature = f"fake-signature-{self.id}"
                upstream.signatures.add(self.signature)
            self.show_thought = (body.get("thinking") or {}).get("display") != "omitted"
        pieces = _REPLY_PIECE.findall(THINKING if self.thinking else reply)
        self.stop_reason = "end_turn"
        if self.tool_name:
            self.stop_reason = "tool_use"
            self.output_tokens = count_words(json.dumps(self.tool_input))
        else:
            if len(pieces) > body["max_tokens"]:
                pieces = pieces[: body["max_tokens"]]
                self.stop_reason = "max_tokens"
            self.output_tokens = len(pieces)
        self.output_tokens += len(self.thought)
        if self.model == "fake-overbill":
            self.output_tokens = OVERBILL_TOKENS
        self.pieces: list[str] = pieces
        self.input_tokens = prompt_word_count(body)
        self.cache_read = self.cache_write = 0
        if self.model == "claude-cached":
            self.cache_read = prompt_word_count({"system": body.get("system")})
            self.cache_write = prompt_word_count({"messages": body["messages"][:1]})
            self.input_tokens -= self.cache_read + self.cache_write

    def _agent_tool(self, body: dict[str, Any]) -> str | None:
        """The tool a bash agent calls (none once it has the result, or for the thinker)."""
        names = [t.get("name") for t in body.get("tools") or () if isinstance(t, dict)]
        if self.model != "claude-bash-agent" or "Bash" not in names:
            return None
        if _last_tool_result(body) is not None:
            return None
        self.tool_input = dict(BASH_INPUT)
        return "Bash"

    def usage(self, output_tokens: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        if self.model in _THINKERS:  # the current wire format, in full
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": 0,
                "ephemeral_1h_input_tokens": 0,
            }
            usage["output_tokens_details"] = {"thinking_tokens": len(self.thought)}
        if self.model == "claude-cached":
            hour = self.cache_write // 2
            split = {"ephemeral_5m_input_tokens": self.cache_write - hour}
            usage["cache_creation"] = {**split, "ephemeral_1h_input_tokens": hour}
        return usage

    def thinking_block(self) -> dict[str, Any]:
        text = "".join(self.thought) if self.show_thought else ""
        return {"type": "thinking", "thinking": text, "signature": self.signature}

    def message(self, content: list[dict[str, Any]], stop_reason: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self.usage(self.output_tokens if stop_reason else 1),
        }

    def content(self) -> list[dict[str, Any]]:
        thought = [self.thinking_block()] if self.thought else []
        if self.tool_name:
            block = {"type": "tool_use", "id": TOOL_USE_ID, "name": self.tool_name}
            return [*thought, {**block, "input": dict(self.tool_input)}]
        return [*thought, {"type": "text", "text": "".join(self.pieces)}]

    async def respond(self, request: web.Request) -> web.StreamResponse:
        body = orjson.dumps(self.message(self.content(), self.stop_reason))
        if self.model != "fake-truncate":
            return web.Response(body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        close_connection(request)
        return response

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every event of the full stream, in order: (event name, data)."""
        start = {"type": "message_start", "message": self.message([], None)}
        events: list[tuple[str, dict[str, Any]]] = [("message_start", start)]
        blocks = self._streamed_blocks()
        for index, (block, deltas) in enumerate(blocks):
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block},
                )
            )
            if index == 0:
                events.append(("ping", {"type": "ping"}))
            events.extend(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
                for delta in deltas
            )
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        usage = self.usage(self.output_tokens) if self.model in _THINKERS else {}
        if self.model == "claude-cached":  # cumulative counts, without the writes' split
            usage = self.usage(self.output_tokens)
            del usage["cache_creation"], usage["service_tier"]
        message_delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": {**usage, "output_tokens": self.output_tokens},
        }
        events.append(("message_delta", message_delta))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _streamed_blocks(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each content block as it starts, and its deltas."""
        blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        if self.thought:
            shown = self.thought if self.show_thought else []
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in shown]
            deltas.append({"type": "signature_delta", "signature": self.signature})
            blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
        if self.tool_name:
            block: dict[str, Any] = {"type": "tool_use", "id": TOOL_USE_ID, "name": self.tool_name}
            block["input"] = {}
            fragments: tuple[str, ...] = TOOL_INPUT_FRAGMENTS
            if self.tool_input != TOOL_INPUT:
                whole = json.dumps(self.tool_input)
                fragments = (whole[: len(whole) // 2], whole[len(whole) // 2 :])
            deltas = [{"type": "input_json_delta", "partial_json": part} for part in fragments]
        elif self.thinking:
            block = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in self.pieces]
            deltas.append({"type": "signature_delta", "signature": "c2lnbmF0dXJl"})
        else:
            block = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in self.pieces]
        return [*blocks, (block, deltas)]

    async def stream(self, request: web.Request, delay: float) -> web.StreamResponse:
        response = await open_event_stream(request)
        events = self.events()
        # The two deltas end at index 4: message_start, content_block_start, ping, delta, delta.
        if self.model == "fake-truncate":
            for event, data in events[:5]:
                await response.write(_sse(event, data))
            close_connection(request)
            return response
        if self.stall is not None:
            head = 3 + self.stall[1]  # message_start, content_block_start, ping, the deltas
            for event, data in events[:head]:
                await response.write(_sse(event, data))
            if await wait_for_hangup(request, STALL_SECONDS):
                return response
            events = events[head:]
        if self.model == "fake-stream-error":
            error = {"type": "overloaded_error", "message": "Overloaded"}
            events = [
                *events[:4],
                ("error", {"type": "error", "error": error, "request_id": _REQUEST_ID.get()}),
            ]
        for index, (event, data) in enumerate(events):
            if delay and index:
                await asyncio.sleep(delay)
            await response.write(_sse(event, data))
        await response.write_eof()
        return response


def _error(status: int, message: str | None = None) -> web.Response:
    request_id = _REQUEST_ID.get()
    response = web.Response(
        status=status,
        body=error_body(status, message, request_id),
        content_type="application/json",
    )
    if status == 429:
        response.headers["retry-after"] = "1"
    return response


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if (request_id := _REQUEST_ID.get(None)) is not None:
        response.headers["request-id"] = request_id

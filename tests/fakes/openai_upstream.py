"""A fake OpenAI-compatible upstream: a real HTTP server on 127.0.0.1 for the gateway's tests.

The requested model name selects the behaviour, so one server serves many tests:

- any ordinary name (``fake-model``): a normal answer with ``finish_reason: "stop"``;
  a request with ``tools`` gets one call to the first tool instead.
- ``fake-error-<status>``: that HTTP status with an OpenAI error body (429 adds ``Retry-After: 1``).
- ``fake-slow-<ms>``: nothing is sent for that long; streams also wait that long between chunks.
- ``fake-truncate``: the body stops halfway and the connection is closed.
- ``fake-garbage``: status 200 with a body that is not JSON.
- ``fake-no-usage``: a normal answer that never carries ``usage``.
- ``fake-late-<ms>``: unstreamed, a normal answer after that long; its model name is appended
  to ``completed`` if the gateway was still connected to receive it.
- ``fake-late-error-<ms>``: unstreamed, a 503 after that long, recorded in ``completed`` the same
  way.
- ``fake-stall-<kind>-<n>``: a stream that sends its first ``n`` deltas of ``kind`` (after the
  role chunk) at once, then nothing until the gateway hangs up (at most ``STALL_SECONDS``, then
  the rest). Kinds: ``text`` (the reply), ``reasoning`` (``REASONING`` a word per
  ``reasoning_content`` delta, then the reply), ``tools`` (a call of the request's first tool, or
  of ``get_weather``: its name rides in the first of ``TOOL_ARGUMENT_FRAGMENTS``).
- ``fake-tool-then-text``: as an ordinary name, except that a request whose last message is a
  tool result gets the reply text (the end of a tool loop).
- ``fake-overbill``: a normal answer whose usage reports ``OVERBILL_TOKENS`` completion tokens,
  whatever output limit it was sent (an upstream billing past the limits it was given).
- ``fake-reasoner``: a reasoning model as DeepSeek and vLLM serve them: ``REASONING`` as
  ``reasoning_content`` (a word per delta), then the reply; the reasoning counts in
  ``completion_tokens`` (``completion_tokens_details.reasoning_tokens`` says how many).
- ``fake-bash-agent``: what a coding agent's model does, as ``fake-reasoner`` reasons: given a
  tool named ``Bash`` and no tool result yet, it calls ``Bash`` with ``BASH_INPUT``; given the
  result, it answers ``tool_answer(result)``. Like DeepSeek in thinking mode, it refuses (400)
  an assistant message with tool calls that comes back without its ``reasoning_content``.
- ``agent-reply``, ``agent-shell``: a coding agent's turns, reasoning first
  (tests/fakes/agent_turns.py).


- ``fake-cached``: a normal answer whose usage reports the words of the first message as read
  from the prompt cache (``prompt_tokens_details.cached_tokens``) and those of the second as
  written to it (``prompt_tokens_details.cache_write_tokens``, as OpenRouter reports writes),
  both inside ``prompt_tokens``, as OpenAI counts them.

``/v1/completions`` (legacy text completions) answers ``n`` completions of each prompt (a string
or token array; an array of them), each the reply cut at ``max_tokens`` words (``finish_reason:
"length"``; 16 when absent, the API's default), prefixed with the prompt when ``echo`` is true;
its usage counts prompt words (or token ids) and the words of ``best_of`` completions per prompt
when that is larger than ``n`` (generated and billed, as the API does); streamed, one
``text_completion`` chunk per word and choice, the usage chunk when ``stream_options`` asks.
``fake-error-<status>`` works there too.

``/v1/embeddings`` answers deterministic vectors; ``/v1/images/generations`` answers ``n`` image
URLs (or base64 data), and ``fake-error-<status>`` works there too.

``FakeOpenAIUpstream(ignore_key=True)`` answers whatever key a request carries (or none), like
a self-hosted server that does not check keys.

Usage is deterministic: ``prompt_tokens`` is the number of whitespace-separated words in all
message contents, ``completion_tokens`` the number of words in the reply (for a tool call, in its
arguments). A streamed reply arrives one word per chunk, each word keeping its trailing space.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
import struct
import time
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import agent_turns
from tests.fakes.server import (
    FakeServer,
    RecordedRequest,
    close_connection,
    open_event_stream,
    record,
    still_connected,
    wait_for_hangup,
)

MODELS = (
    "fake-model",
    "fake-no-usage",
    "fake-truncate",
    "fake-garbage",
    "fake-slow-100",
    "fake-error-400",
    "fake-error-429",
    "fake-error-500",
    "fake-embedding",
)
TOOL_CALL_ID = "call_fake_1"
TOOL_ARGUMENTS = '{"city": "Paris"}'
TOOL_ARGUMENT_FRAGMENTS = ('{"city": ', '"Paris"', "}")
SYSTEM_FINGERPRINT = "fp_fake"
EMBEDDING_DIMENSIONS = 8
REASONING = "Let me think this through carefully first."
TOOL_MARKER = "gatewayz-tool-ok"
BASH_INPUT = {"command": f"echo {TOOL_MARKER}", "description": "Print a word"}
_REASONERS = ("fake-reasoner", "fake-bash-agent")
STALL_SECONDS = 10.0
OVERBILL_TOKENS = 1_000_000
MAX_EMBEDDING_DIMENSIONS = 3072  # OpenAI's largest, text-embedding-3-large

_ERROR_MODEL = re.compile(r"fake-error-(\d{3})")
_SLOW_MODEL = re.compile(r"fake-slow-(\d+)")
_LATE_MODEL = re.compile(r"fake-late(-error)?-(\d+)")
_STALL_MODEL = re.compile(r"fake-stall-(text|reasoning|tools)-(\d+)")
_REPLY_PIECE = re.compile(r"\s*\S+\s*")

_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("invalid_request_error", "The fake upstream rejected this request.", None),
    401: ("invalid_request_error", "Incorrect API key provided.", "invalid_api_key"),
    403: ("invalid_request_error", "You are not allowed to use this model.", None),
    404: ("invalid_request_error", "The model does not exist.", "model_not_found"),
    429: ("requests", "Rate limit reached for requests.", "rate_limit_exceeded"),
}
_SERVER_ERROR = ("server_error", "The server had an error while processing your request.", None)


def count_words(text: str) -> int:
    """Token count the fake upstream charges for ``text``."""
    return len(text.split())


def tool_answer(result: str) -> str:
    """What the agent models answer once they see a tool's result (``result``: as sent)."""
    said = TOOL_MARKER if TOOL_MARKER in result else "something else"
    return f"The tool said {said}."


def prompt_word_count(messages: Any) -> int:
    """Words across every message's content: strings, and the text parts of list content."""
    total = 0
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += count_words(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += count_words(part["text"])
    return total


def error_body(status: int, message: str | None = None, param: str | None = None) -> bytes:
    """OpenAI error body for ``status``."""
    kind, default_message, code = _ERRORS.get(
        status, _SERVER_ERROR if status >= 500 else ("invalid_request_error", "Bad request.", None)
    )
    error = {"message": message or default_message, "type": kind, "param": param, "code": code}
    return orjson.dumps({"error": error})


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
    return b"data: " + data + b"\n\n"


def _embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-free vector derived from the text's SHA-256."""
    seed = hashlib.sha256(text.encode()).digest()
    while len(seed) < dimensions:
        seed += hashlib.sha256(seed).digest()
    return [round(byte / 255 * 2 - 1, 6) for byte in seed[:dimensions]]


class FakeOpenAIUpstream(FakeServer):
    """OpenAI-format upstream on an ephemeral 127.0.0.1 port; see the module docstring."""

    url_path = "/v1"

    def __init__(
        self,
        api_key: str = "sk-fake-upstream",
        reply: str = "This is a fake reply.",
        *,
        ignore_key: bool = False,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.ignore_key = ignore_key
        self.reply = reply
        self.requests: list[RecordedRequest] = []
        self.completed: list[str] = []
        self._ids = itertools.count(1)

    def configure(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/v1/completions", self._text_completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/images/generations", self._images)
        app.middlewares.append(self._record_and_authenticate)
        app.on_response_prepare.append(self._add_request_id)

    @web.middleware
    async def _record_and_authenticate(
        self, request: web.Request, handler: Any
    ) -> web.StreamResponse:
        sent = await record(request)
        self.requests.append(sent)
        if not self.ignore_key and sent.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401)
        if request.method == "POST" and not isinstance(sent.json, dict):
            return self._error(400, "The request body is not a JSON object.")
        return await handler(request)

    async def _add_request_id(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["x-request-id"] = f"req_fake_{next(self._ids)}"

    @staticmethod
    def _error(status: int, message: str | None = None, param: str | None = None) -> web.Response:
        response = web.Response(
            status=status, body=error_body(status, message, param), content_type="application/json"
        )
        if status == 429:
            response.headers["Retry-After"] = "1"
        return response

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {"id": model, "object": "model", "created": 1700000000, "owned_by": "fake-upstream"}
            for model in MODELS
        ]
        return web.json_response({"object": "list", "data": data}, dumps=_dumps)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json(loads=orjson.loads)
        inputs = body.get("input")
        if isinstance(inputs, str) or (
            isinstance(inputs, list) and inputs and isinstance(inputs[0], int)
        ):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not isinstance(body.get("model"), str):
            return self._error(400, "'model' and a non-empty 'input' are required.", "input")
        dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
        if not isinstance(dimensions, int) or not 0 < dimensions <= MAX_EMBEDDING_DIMENSIONS:
            message = f"'dimensions' must be an integer from 1 to {MAX_EMBEDDING_DIMENSIONS}."
            return self._error(400, message, "dimensions")
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(str(token) for token in item)
            tokens += count_words(text) if isinstance(item, str) else len(item)
            vector: list[float] | str = _embedding(text, dimensions)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        payload = {"object": "list", "data": data, "model": body["model"], "usage": usage}
        return web.json_response(payload, dumps=_dumps)

    async def _images(self, request: web.Request) -> web.Response:
        body = await request.json(loads=orjson.loads)
        if error := _ERROR_MODEL.fullmatch(str(body.get("model"))):
            return self._error(int(error.group(1)))
        n = body.get("n", 1)
        if body.get("response_format") == "b64_json":
            data = [{"b64_json": base64.b64encode(b"fake image %d" % i).decode()} for i in range(n)]
        else:
            data = [{"url": f"https://images.example/fake-{i}.png"} for i in range(n)]
        return web.json_response({"created": int(time.time()), "data": data}, dumps=_dumps)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=orjson.loads)
        model = body.get("model")
        if not isinstance(model, str) or not isinstance(body.get("messages"), list):
            return self._error(400, "'model' and 'messages' are required.", "messages")
        if error := _ERROR_MODEL.fullmatch(model):
            return self._error(int(error.group(1)))
        if model == "fake-bash-agent" and (index := _lost_reasoning(body["messages"])) is not None:
            return self._error(
                400,
                f"Missing `reasoning_content` field in the assistant message at message index "
                f"{index}. For more information, please refer to "
                "https://api-docs.deepseek.com/guides/thinking_mode#tool-calls",
            )
        if (turn := agent_turns.chat_turn(body)) is not None:
            return await self._agent(request, body, turn)
        if late := _LATE_MODEL.fullmatch(model):
            return await self._late(request, body, failing=bool(late.group(1)), ms=late.group(2))
        delay = int(slow.group(1)) / 1000 if (slow := _SLOW_MODEL.fullmatch(model)) else 0.0
        if delay:
            await asyncio.sleep(delay)
        completion = _Completion(self, body)
        if body.get("stream"):
            return await completion.stream(request, delay)
        return await completion.respond(request)

    async def _agent(
        self, request: web.Request, body: dict[str, Any], turn: agent_turns.AgentTurn
    ) -> web.StreamResponse:
        prompt = prompt_word_count(body["messages"])
        if not body.get("stream"):
            answer = agent_turns.chat_completion(turn, body, prompt)
            return web.json_response(answer, dumps=_dumps)
        response = await open_event_stream(request)
        for chunk in agent_turns.chat_chunks(turn, body, prompt):
            await response.write(_sse(chunk))
        await response.write(_sse("[DONE]"))
        await response.write_eof()
        return response

    async def _text_completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=orjson.loads)
        model, prompt = body.get("model"), body.get("prompt")
        if not isinstance(model, str) or prompt is None:
            return self._error(400, "'model' and 'prompt' are required.", "prompt")
        if error := _ERROR_MODEL.fullmatch(model):
            return self._error(int(error.group(1)))
        completion = _TextCompletion(self, body)
        if body.get("stream"):
            return await completion.stream(request)
        return web.json_response(completion.whole(), dumps=_dumps)

    async def _late(
        self, request: web.Request, body: dict[str, Any], failing: bool, ms: str
    ) -> web.StreamResponse:
        """An unstreamed answer (or 503) after `ms`, recorded if the gateway is still there."""
        await asyncio.sleep(int(ms) / 1000)
        if failing:
            response: web.StreamResponse = self._error(503)
        else:
            response = await _Completion(self, body).respond(request)
        if still_connected(request):
            self.completed.append(body["model"])
        return response


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _lost_reasoning(messages: list[Any]) -> int | None:
    """The index of an assistant message with tool calls but no reasoning_content, if any."""
    for index, message in enumerate(messages):
        assistant = isinstance(message, dict) and message.get("role") == "assistant"
        if assistant and message.get("tool_calls") and not message.get("reasoning_content"):
            return index
    return None


def _tool_result(messages: list[Any]) -> str | None:
    """The tool results the conversation ends with, as JSON text (None if it ends otherwise)."""
    results = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        results.append(message.get("content"))
    return orjson.dumps(results).decode() if results else None


def _prompt_details(model: str, messages: list[Any]) -> dict[str, int]:
    """prompt_tokens_details: for ``fake-cached``, the first message read from the cache and
    the second written to it (see the module docstring)."""
    if model != "fake-cached":
        return {"cached_tokens": 0, "audio_tokens": 0}
    read, written = (prompt_word_count(messages[i : i + 1]) for i in (0, 1))
    return {"cached_tokens": read, "cache_write_tokens": written, "audio_tokens": 0}


class _Completion:
    """One chat completion answer, rendered whole or as a stream."""

    def __init__(self, upstream: FakeOpenAIUpstream, body: dict[str, Any]) -> None:
        self.model: str = body["model"]
        self.id = f"chatcmpl-fake{next(upstream._ids)}"
        self.created = int(time.time())
        tools = body.get("tools")
        self.tool_name: str | None = None
        if isinstance(tools, list) and tools:
            first = tools[0] if isinstance(tools[0], dict) else {}
            self.tool_name = str((first.get("function") or {}).get("name") or first.get("name"))
        messages = body["messages"]
        if self.model == "fake-tool-then-text" and messages and messages[-1].get("role") == "tool":
            self.tool_name = None
        stall = _STALL_MODEL.fullmatch(self.model)
        self.stall = (stall.group(1), int(stall.group(2))) if stall else None
        if self.stall and self.stall[0] == "tools":
            self.tool_name = self.tool_name or "get_weather"
        self.reply = upstream.reply
        self.arguments = TOOL_ARGUMENTS
        self.reasoning: list[str] = []
        if self.model in _REASONERS:
            self.reasoning = _REPLY_PIECE.findall(REASONING)
            self._agent(body)
        output = self.arguments if self.tool_name else self.reply
        prompt_tokens = prompt_word_count(body["messages"])
        completion_tokens = count_words(output) + len(self.reasoning)
        if self.model == "fake-overbill":
            completion_tokens = OVERBILL_TOKENS
        self.usage: dict[str, Any] | None = None
        if self.model != "fake-no-usage":
            self.usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": _prompt_details(self.model, body["messages"]),
                "completion_tokens_details": {
                    "reasoning_tokens": len(self.reasoning),
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            }
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True

    def _agent(self, body: dict[str, Any]) -> None:
        """A bash agent calls Bash until it has the result, then answers with it."""
        self.tool_name = None
        if self.model != "fake-bash-agent":
            return
        result = _tool_result(body["messages"])
        names = [
            (tool.get("function") or {}).get("name")
            for tool in body.get("tools") or ()
            if isinstance(tool, dict)
        ]
        if result is not None:
            self.reply = tool_answer(result)
        elif "Bash" in names:
            self.tool_name = "Bash"
            self.arguments = json.dumps(BASH_INPUT)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_name else "stop"

    def _envelope(self, obj: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if self.tool_name else self.reply,
            "refusal": None,
            "annotations": [],
        }
        if self.tool_name:
            function = {"name": self.tool_name, "arguments": self.arguments}
            message["tool_calls"] = [{"id": TOOL_CALL_ID, "type": "function", "function": function}]
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        return message

    async def respond(self, request: web.Request) -> web.StreamResponse:
        if self.model == "fake-garbage":
            return web.Response(body=b"<html>not json</html>", content_type="application/json")
        payload = self._envelope("chat.completion")
        payload["choices"] = [
            {
                "index": 0,
                "message": self.message(),
                "logprobs": None,
                "finish_reason": self.finish_reason,
            }
        ]
        if self.usage is not None:
            payload["usage"] = self.usage
        body = orjson.dumps(payload)
        if self.model != "fake-truncate":
            return web.Response(body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        close_connection(request)
        return response

    def deltas(self) -> list[dict[str, Any]]:
        """The delta of each chunk before the final one, the first carrying the role."""
        if self.reasoning:
            thoughts = [{"reasoning_content": piece} for piece in self.reasoning]
            head = {"role": "assistant", "content": None, "reasoning_content": ""}
            first, *rest = self._answer_deltas()
            first = {key: value for key, value in first.items() if key != "role"}
            return [head, *thoughts, first, *rest]
        return self._answer_deltas()

    def _answer_deltas(self) -> list[dict[str, Any]]:
        if self.tool_name:
            fragments: tuple[str, ...] = TOOL_ARGUMENT_FRAGMENTS
            if self.arguments != TOOL_ARGUMENTS:
                half = len(self.arguments) // 2
                fragments = (self.arguments[:half], self.arguments[half:])
            first, *rest = fragments
            call = {
                "index": 0,
                "id": TOOL_CALL_ID,
                "type": "function",
                "function": {"name": self.tool_name, "arguments": first},
            }
            head = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
            tail = [{"tool_calls": [{"index": 0, "function": {"arguments": arg}}]} for arg in rest]
            return [head, *tail]
        words = [{"content": piece} for piece in _REPLY_PIECE.findall(self.reply)]
        if self.stall and self.stall[0] == "reasoning":
            thoughts = [{"reasoning_content": piece} for piece in _REPLY_PIECE.findall(REASONING)]
            words = [*thoughts, *words]
        return [{"role": "assistant", "content": "", "refusal": None}, *words]

    def chunk(self, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        chunk = self._envelope("chat.completion.chunk")
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk["choices"] = [choice]
        if self.include_usage and self.usage is not None:
            chunk["usage"] = None
        return chunk

    async def stream(self, request: web.Request, delay: float) -> web.StreamResponse:
        response = await open_event_stream(request)
        if self.model == "fake-garbage":
            await response.write(b"data: not json\n\n")
            await response.write(_sse("[DONE]"))
            await response.write_eof()
            return response
        events = [self.chunk(delta, None) for delta in self.deltas()]
        events.append(self.chunk({}, self.finish_reason))
        if self.include_usage and self.usage is not None:
            usage_chunk = self._envelope("chat.completion.chunk")
            usage_chunk["choices"] = []
            usage_chunk["usage"] = self.usage
            events.append(usage_chunk)
        if self.model == "fake-truncate":
            for event in events[:3]:
                await response.write(_sse(event))
            close_connection(request)
            return response
        if self.stall is not None:
            kind, sent = self.stall
            head = sent if kind == "tools" else 1 + sent  # the role rides on the first call
            for event in events[:head]:
                await response.write(_sse(event))
            if await wait_for_hangup(request, STALL_SECONDS):
                return response
            events = events[head:]
        for index, event in enumerate(events):
            if delay and index:
                await asyncio.sleep(delay)
            await response.write(_sse(event))
        await response.write(_sse("[DONE]"))
        await response.write_eof()
        return response


class _TextCompletion:
    """One legacy text completion answer (see the module docstring)."""

    def __init__(self, upstream: FakeOpenAIUpstream, body: dict[str, Any]) -> None:
        self.body = body
        self.id = f"cmpl-fake{next(upstream._ids)}"
        self.created = int(time.time())
        prompt = body["prompt"]
        prompts = (
            [prompt] if isinstance(prompt, str) or not isinstance(prompt[0], list | str) else prompt
        )
        self.prompts = [p if isinstance(p, str) else " ".join(map(str, p)) for p in prompts]
        self.prompt_tokens = sum(count_words(p) if isinstance(p, str) else len(p) for p in prompts)
        limit = body.get("max_tokens") or 16
        pieces = _REPLY_PIECE.findall(upstream.reply)
        self.finish_reason = "length" if len(pieces) > limit else "stop"
        self.pieces = pieces[:limit]
        self.n = body.get("n") or 1
        generated = len(prompts) * max(self.n, body.get("best_of") or 1)
        self.completion_tokens = generated * len(self.pieces)

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.body["model"],
            "choices": choices,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }

    def usage(self) -> dict[str, int]:
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }

    def _choices(self) -> list[tuple[int, str]]:
        """(index, prompt) of each choice: `n` per prompt."""
        return [(i * self.n + k, p) for i, p in enumerate(self.prompts) for k in range(self.n)]

    def whole(self) -> dict[str, Any]:
        choices = [
            {
                "text": (prompt if self.body.get("echo") else "") + "".join(self.pieces),
                "index": index,
                "logprobs": None,
                "finish_reason": self.finish_reason,
            }
            for index, prompt in self._choices()
        ]
        return {**self._envelope(choices), "usage": self.usage()}

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = await open_event_stream(request)
        for index, prompt in self._choices():
            texts = [prompt] if self.body.get("echo") else []
            for text in [*texts, *self.pieces]:
                choice = {"text": text, "index": index, "logprobs": None, "finish_reason": None}
                await response.write(_sse(self._envelope([choice])))
            end = {"text": "", "index": index, "logprobs": None}
            await response.write(
                _sse(self._envelope([{**end, "finish_reason": self.finish_reason}]))
            )
        options = self.body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            await response.write(_sse({**self._envelope([]), "usage": self.usage()}))
        await response.write(_sse("[DONE]"))
        await response.write_eof()
        return response

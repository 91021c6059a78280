"""A fake Gemini API (generativelanguage) upstream: a real HTTP server on 127.0.0.1 for tests.

The wire format follows ai.google.dev's REST reference (``models.generateContent``,
``models.streamGenerateContent``, ``models.list``) in its camelCase JSON form. ``base_url`` has
no version segment: the gateway calls ``{base_url}/v1beta/models/{model}:generateContent`` or
``:streamGenerateContent?alt=sse`` (``v1`` and ``v1alpha`` are served the same way).

The requested model name selects the behaviour:

- any ordinary name (``gemini-fake``): one candidate with the reply and ``finishReason: STOP``;
  a request whose ``tools`` declare functions gets one whole ``functionCall`` part (no id) for
  the first declaration instead, still with ``STOP``. A ``generationConfig.maxOutputTokens``
  below the reply's word count cuts the reply there (``MAX_TOKENS``).
- ``gemini-tool-then-text``: as an ordinary name, except that a request whose last content
  holds a ``functionResponse`` part gets the reply text (the end of a tool loop).
- ``gemini-json``: as an ordinary name, except that a request asking for JSON
  (``generationConfig.responseMimeType: application/json``) gets ``FUNCTION_ARGS_JSON`` as its
  reply text.
- ``gemini-thinking``: as an ordinary name, with a ``{"text": THOUGHT, "thought": true}`` part
  first when ``thinkingConfig.includeThoughts`` is set, and ``THOUGHT``'s words counted as
  ``thoughtsTokenCount`` (streamed: its own chunk first).
- ``fake-error-<status>``: that HTTP status with Google's error body (429 is
  ``RESOURCE_EXHAUSTED`` with a ``RetryInfo`` detail of ``1s``).
- ``fake-slow-<ms>``: nothing is sent for that long; streams also wait that long between chunks.
- ``fake-truncate``: the body stops halfway (a stream: after two chunks, before any
  ``finishReason``) and the connection is closed.
- ``fake-overbill``: a normal answer whose ``usageMetadata`` adds ``OVERBILL_TOKENS`` of
  ``thoughtsTokenCount``, whatever ``maxOutputTokens`` it was sent (thinking billed past the
  limits it was given).
- ``gemini-cached``: a normal answer whose ``usageMetadata`` reports the words of
  ``systemInstruction`` as read from the context cache (``cachedContentTokenCount``, with
  ``cacheTokensDetails``), inside ``promptTokenCount`` as Gemini counts them.
- ``fake-safety``: a candidate with no ``content``, ``finishReason: SAFETY`` and safety ratings;
  ``usageMetadata`` then has no ``candidatesTokenCount``, as the real API omits zero counts.
- ``gemini-bash-agent``: what a coding agent's model does: given a function named ``Bash`` and
  no ``functionResponse`` yet, it calls ``Bash`` with ``BASH_INPUT`` (the call carrying a
  ``thoughtSignature``, as Gemini 3 sends them); given the response, it answers
  ``tool_answer(response)``. With ``thinkingConfig.includeThoughts`` its answers start with
  ``THOUGHT`` as a thought part, counted in ``thoughtsTokenCount``.
- ``gemini-stall-<kind>-<n>``: a stream that sends its first ``n`` chunks at once, then nothing
  until the gateway hangs up (at most ``STALL_SECONDS``, then the rest). Kinds: ``text`` (the
  reply), ``thought`` (``THOUGHT`` a word per ``{"text", "thought": true}`` part, then the reply).
  Only with ``alt=sse``.
- ``agent-reply``, ``agent-shell``: a coding agent's turns, ``thought`` parts first (with
  ``alt=sse`` when streamed; tests/fakes/agent_turns.py).

The key goes in ``x-goog-api-key`` or ``?key=``. Like the real API, a missing key is 403
``PERMISSION_DENIED`` and a wrong one 400 ``INVALID_ARGUMENT`` (reason ``API_KEY_INVALID``).
Vertex AI's OAuth is accepted too: ``Authorization: Bearer <token>`` with a token in
``bearer_tokens`` (an unknown one is 401 ``UNAUTHENTICATED``), and the same methods are served
under Vertex's model path, ``/v1/projects/{p}/locations/{l}/publishers/google/models/...``.

``:countTokens`` answers ``totalTokens``: the prompt word count (below) of ``contents`` or of a
whole ``generateContentRequest``.

Usage is deterministic: ``promptTokenCount`` is the number of whitespace-separated words in the
text parts of ``contents`` and ``systemInstruction``; ``candidatesTokenCount`` the words of the
reply (for a function call, of its JSON args). With ``alt=sse`` each word (keeping its trailing
space) is one ``data: <GenerateContentResponse>`` event, separated by ``\\r\\n\\r\\n``; only the
last carries ``finishReason`` and ``usageMetadata``; there is no ``[DONE]``. Without ``alt=sse``
the same responses arrive as one JSON array.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import agent_turns
from tests.fakes.openai_upstream import BASH_INPUT, OVERBILL_TOKENS, count_words, tool_answer
from tests.fakes.server import (
    FakeServer,
    RecordedRequest,
    close_connection,
    record,
    wait_for_hangup,
)

MODELS = (
    "gemini-fake",
    "fake-truncate",
    "fake-safety",
    "fake-slow-100",
    "fake-error-400",
    "fake-error-429",
    "fake-error-503",
    "gemini-bash-agent",
)
FUNCTION_ARGS: dict[str, Any] = {"city": "Paris"}
FUNCTION_ARGS_JSON = '{"city": "Paris"}'
INPUT_TOKEN_LIMIT = 1048576
OUTPUT_TOKEN_LIMIT = 65536

_ERROR_MODEL = re.compile(r"fake-error-(\d{3})")
_SLOW_MODEL = re.compile(r"fake-slow-(\d+)")
_STALL_MODEL = re.compile(r"gemini-stall-(text|thought)-(\d+)")
THOUGHT = "Let me think this through carefully first."
THOUGHT_SIGNATURE = "ZmFrZSB0aG91Z2h0IHNpZ25hdHVyZQ=="
STALL_SECONDS = 10.0
_REPLY_PIECE = re.compile(r"\s*\S+\s*")
_VERSIONS = "v1|v1beta|v1alpha"

STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES: dict[int, str] = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "models/fake is not found for API version v1beta.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in troubleshooting guide.",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
}
_SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
]


def status_name(status: int) -> str:
    """The ``google.rpc.Code`` name Google's HTTP APIs pair with ``status``."""
    if status in STATUS_NAMES:
        return STATUS_NAMES[status]
    return "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"


def error_body(status: int, message: str | None = None, details: list[Any] | None = None) -> bytes:
    """Google error body for ``status``."""
    error: dict[str, Any] = {
        "code": status,
        "message": message or _MESSAGES.get(status, "The fake upstream returned an error."),
        "status": status_name(status),
    }
    if details:
        error["details"] = details
    return orjson.dumps({"error": error})


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A request field in either JSON spelling: the REST API accepts both."""
    return obj[camel] if camel in obj else obj.get(snake)


def _content_words(content: Any) -> int:
    if not isinstance(content, dict):
        return 0
    parts = content.get("parts")
    return sum(
        count_words(part["text"])
        for part in (parts if isinstance(parts, list) else ())
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )


def prompt_word_count(body: dict[str, Any]) -> int:
    """Words in the text parts of ``systemInstruction`` and of every content."""
    total = _content_words(_field(body, "systemInstruction", "system_instruction"))
    for content in body.get("contents") or ():
        total += _content_words(content)
    return total


def first_function_name(body: dict[str, Any]) -> str | None:
    """The name of the first function declared in ``tools``, if any."""
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        for declaration in _field(tool, "functionDeclarations", "function_declarations") or ():
            if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                return declaration["name"]
    return None


def _function_responses(body: dict[str, Any]) -> str | None:
    """The function responses of the last content, as JSON text (None if it has none)."""
    contents = body.get("contents") or []
    parts = contents[-1].get("parts") if contents and isinstance(contents[-1], dict) else None
    responses = [
        _field(part, "functionResponse", "function_response")
        for part in (parts if isinstance(parts, list) else ())
        if isinstance(part, dict) and _field(part, "functionResponse", "function_response")
    ]
    return orjson.dumps(responses).decode() if responses else None


def _declared(body: dict[str, Any]) -> list[Any]:
    return [
        declaration.get("name")
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
        for declaration in _field(tool, "functionDeclarations", "function_declarations") or ()
        if isinstance(declaration, dict)
    ]


def validation_error(body: dict[str, Any]) -> str | None:
    """The message of the 400 the real API gives this body, or None when it is acceptable."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified\n"
    for index, content in enumerate(contents):
        if not isinstance(content, dict):
            return f"Invalid value at 'contents[{index}]' (type.googleapis.com/google.ai.Content)"
        if content.get("role", "user") not in ("user", "model"):
            return "Please use a valid role: user, model."
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            where = f"GenerateContentRequest.contents[{index}].parts"
            return f"* {where}: contents.parts must not be empty.\n"
    return None


def _answers_a_function(body: dict[str, Any]) -> bool:
    """Whether the last content holds a functionResponse part."""
    contents = body.get("contents") or [{}]
    parts = contents[-1].get("parts") if isinstance(contents[-1], dict) else None
    return any(
        isinstance(part, dict) and ("functionResponse" in part or "function_response" in part)
        for part in parts or ()
    )


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class FakeGeminiUpstream(FakeServer):
    """Gemini-format upstream on an ephemeral 127.0.0.1 port; see the module docstring."""

    def __init__(
        self, api_key: str = "gemini-fake-key", reply: str = "This is a fake reply."
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.requests: list[RecordedRequest] = []
        self.bearer_tokens: set[str] = set()
        self._ids = itertools.count(1)

    def configure(self, app: web.Application) -> None:
        app.router.add_get(f"/{{version:{_VERSIONS}}}/models", self._models)
        app.router.add_get(f"/{{version:{_VERSIONS}}}/models/{{model}}", self._model)
        app.router.add_post(f"/{{version:{_VERSIONS}}}/models/{{target}}", self._generate)
        vertex = "/projects/{project}/locations/{location}/publishers/google/models/{target}"
        app.router.add_post(f"/{{version:{_VERSIONS}}}{vertex}", self._generate)
        app.middlewares.append(self._record_and_authenticate)

    @web.middleware
    async def _record_and_authenticate(
        self, request: web.Request, handler: Any
    ) -> web.StreamResponse:
        sent = await record(request)
        self.requests.append(sent)
        key = sent.headers.get("x-goog-api-key", sent.query.get("key"))
        authorization = sent.headers.get("authorization", "")
        if not key and authorization.startswith("Bearer "):
            if authorization.removeprefix("Bearer ") not in self.bearer_tokens:
                return _error(401, "Request had invalid authentication credentials.")
        elif not key:
            return _error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        elif key != self.api_key:
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
            return _error(400, "API key not valid. Please pass a valid API key.", [info])
        if request.method == "POST" and not isinstance(sent.json, dict):
            return _error(400, "Invalid JSON payload received.")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, exc.reason)

    async def _models(self, request: web.Request) -> web.Response:
        payload = {"models": [_model_info(model) for model in MODELS]}
        return web.json_response(payload, dumps=_dumps)

    async def _model(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        if model not in MODELS:
            version = request.match_info["version"]
            return _error(404, f"models/{model} is not found for API version {version}")
        return web.json_response(_model_info(model), dumps=_dumps)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["target"].partition(":")
        if method == "countTokens":
            return await self._count(request)
        if method not in ("generateContent", "streamGenerateContent"):
            return _error(404, f"Method {method or '(none)'} is not found.")
        body = await request.json(loads=orjson.loads)
        if problem := validation_error(body):
            return _error(400, problem)
        if error := _ERROR_MODEL.fullmatch(model):
            status = int(error.group(1))
            details = None
            if status == 429:
                details = [
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
                ]
            return _error(status, details=details)
        delay = int(slow.group(1)) / 1000 if (slow := _SLOW_MODEL.fullmatch(model)) else 0.0
        if delay:
            await asyncio.sleep(delay)
        if (turn := agent_turns.gemini_turn(model, body)) is not None:
            return await _agent(request, model, body, turn, method == "streamGenerateContent")
        answer = _Answer(self, model, body)
        if method == "streamGenerateContent":
            return await answer.stream(request, delay, sse=request.query.get("alt") == "sse")
        return await answer.respond(request)

    async def _count(self, request: web.Request) -> web.Response:
        """countTokens: the prompt words of ``contents`` or of ``generateContentRequest``."""
        body = await request.json(loads=orjson.loads)
        inner = _field(body, "generateContentRequest", "generate_content_request") or body
        return web.json_response({"totalTokens": prompt_word_count(inner)}, dumps=_dumps)


async def _agent(
    request: web.Request,
    model: str,
    body: dict[str, Any],
    turn: agent_turns.AgentTurn,
    stream: bool,
) -> web.StreamResponse:
    tokens = prompt_word_count(body)
    if not stream:
        return web.json_response(agent_turns.gemini_response(turn, model, tokens), dumps=_dumps)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for chunk in agent_turns.gemini_responses(turn, model, tokens):
        await response.write(_sse(chunk))
    await response.write_eof()
    return response


def _error(
    status: int, message: str | None = None, details: list[Any] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=error_body(status, message, details), content_type="application/json"
    )


def _model_info(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model.replace("-", " ").title(),
        "description": "A fake model served by the test upstream.",
        "inputTokenLimit": INPUT_TOKEN_LIMIT,
        "outputTokenLimit": OUTPUT_TOKEN_LIMIT,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
    }


class _Answer:
    """One generateContent answer, rendered whole or as a stream of responses."""

    def __init__(self, upstream: FakeGeminiUpstream, model: str, body: dict[str, Any]) -> None:
        self.model = model
        self.response_id = f"fakeResponse{next(upstream._ids):06d}"
        self.function_name = first_function_name(body)
        if model == "gemini-tool-then-text" and _answers_a_function(body):
            self.function_name = None
        self.function_args: dict[str, Any] = dict(FUNCTION_ARGS)
        self.prompt_tokens = prompt_word_count(body)
        self.cached_tokens = 0
        if model == "gemini-cached":
            system = _field(body, "systemInstruction", "system_instruction")
            self.cached_tokens = _content_words(system)
        self.finish_reason = "STOP"
        reply = upstream.reply
        config = _field(body, "generationConfig", "generation_config")
        mime = _field(config or {}, "responseMimeType", "response_mime_type")
        if model == "gemini-json" and mime == "application/json":
            reply = FUNCTION_ARGS_JSON
        limit = _field(config, "maxOutputTokens", "max_output_tokens") if config else None
        thinking = _field(config or {}, "thinkingConfig", "thinking_config") or {}
        shown = bool(_field(thinking, "includeThoughts", "include_thoughts"))
        self.thoughts: list[str] = []  # the thought parts sent
        self.thought_tokens = 0  # the thinking billed (also when not shown)
        if self.model == "gemini-bash-agent":
            reply = self._agent(body, reply)
            if shown:
                self.thoughts = _REPLY_PIECE.findall(THOUGHT)
            self.thought_tokens = len(self.thoughts)
        elif self.model == "gemini-thinking":
            self.thoughts = [THOUGHT] if shown else []
            self.thought_tokens = count_words(THOUGHT)
        pieces = _REPLY_PIECE.findall(reply)
        if self.model == "fake-safety":
            self.finish_reason = "SAFETY"
            pieces = []
            self.output_tokens = 0
        elif self.function_name:
            self.output_tokens = count_words(json.dumps(self.function_args))
        else:
            if isinstance(limit, int) and len(pieces) > limit:
                pieces = pieces[:limit]
                self.finish_reason = "MAX_TOKENS"
            self.output_tokens = len(pieces)
        self.pieces: list[str] = pieces

    def _agent(self, body: dict[str, Any], reply: str) -> str:
        """A bash agent calls Bash until it has the response, then answers with it."""
        self.function_name = None
        responses = _function_responses(body)
        if responses is not None:
            return tool_answer(responses)
        if "Bash" in _declared(body):
            self.function_name = "Bash"
            self.function_args = dict(BASH_INPUT)
        return reply

    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {"promptTokenCount": self.prompt_tokens}
        if self.output_tokens:
            usage["candidatesTokenCount"] = self.output_tokens
        thoughts = OVERBILL_TOKENS if self.model == "fake-overbill" else self.thought_tokens
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        usage["totalTokenCount"] = self.prompt_tokens + self.output_tokens + thoughts
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.prompt_tokens}]
        if self.cached_tokens:
            usage["cachedContentTokenCount"] = self.cached_tokens
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.cached_tokens}]
        return usage

    def response(self, parts: list[dict[str, Any]] | None, final: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {}
        if parts is not None:
            candidate["content"] = {"parts": parts, "role": "model"}
        if final:
            candidate["finishReason"] = self.finish_reason
            if self.finish_reason == "SAFETY":
                candidate["safetyRatings"] = _SAFETY_RATINGS
        candidate["index"] = 0
        payload: dict[str, Any] = {"candidates": [candidate]}
        if final:
            payload["usageMetadata"] = self.usage()
        payload["modelVersion"] = self.model
        payload["responseId"] = self.response_id
        return payload

    def parts(self) -> list[dict[str, Any]] | None:
        if self.finish_reason == "SAFETY":
            return None
        thought = [{"text": "".join(self.thoughts), "thought": True}] if self.thoughts else []
        if self.function_name:
            call: dict[str, Any] = {
                "functionCall": {"name": self.function_name, "args": dict(self.function_args)}
            }
            if self.model == "gemini-bash-agent":
                call["thoughtSignature"] = THOUGHT_SIGNATURE
            return [*thought, call]
        return [*thought, {"text": "".join(self.pieces)}]

    def chunks(self) -> list[dict[str, Any]]:
        """Every response of the full stream, in order."""
        if self.finish_reason == "SAFETY" or self.function_name or not self.pieces:
            return [self.response(self.parts(), final=True)]
        last = len(self.pieces) - 1
        chunks = [
            self.response([{"text": piece}], final=index == last)
            for index, piece in enumerate(self.pieces)
        ]
        thoughts = self.thoughts
        if self.model.startswith("gemini-stall-thought-"):
            thoughts = _REPLY_PIECE.findall(THOUGHT)
        chunks[:0] = [self.response([{"text": t, "thought": True}], False) for t in thoughts]
        return chunks

    async def respond(self, request: web.Request) -> web.StreamResponse:
        body = orjson.dumps(self.response(self.parts(), final=True))
        if self.model != "fake-truncate":
            return web.Response(body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        close_connection(request)
        return response

    async def stream(self, request: web.Request, delay: float, sse: bool) -> web.StreamResponse:
        content_type = "text/event-stream" if sse else "application/json; charset=UTF-8"
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        chunks = self.chunks()
        if self.model == "fake-truncate":
            chunks = chunks[:2]
        if sse and (stall := _STALL_MODEL.fullmatch(self.model)):
            head, chunks = chunks[: int(stall.group(2))], chunks[int(stall.group(2)) :]
            for chunk in head:
                await response.write(_sse(chunk))
            if await wait_for_hangup(request, STALL_SECONDS):
                return response
        for index, chunk in enumerate(chunks):
            if delay and index:
                await asyncio.sleep(delay)
            if sse:
                await response.write(_sse(chunk))
            else:
                await response.write((b"[" if index == 0 else b",\r\n") + orjson.dumps(chunk))
        if self.model == "fake-truncate":
            close_connection(request)
            return response
        if not sse:
            await response.write(b"]")
        await response.write_eof()
        return response

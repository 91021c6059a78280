"""A fake OpenAI Responses API upstream (``POST /v1/responses``): a real HTTP server on 127.0.0.1.

It stands for a provider that serves the Responses API natively, so the gateway's passthrough
can be checked end to end. The wire format follows OpenAI's OpenAPI spec (``Response``,
``ResponseStreamEvent``). The requested model name selects the behaviour:

- any ordinary name (``resp-fake``): a ``completed`` Response with one assistant message
  holding the reply; a request with function ``tools`` gets one ``function_call`` item for the
  first function tool instead (call id ``call_fake_resp_1``, arguments ``{"city": "Paris"}``).
- ``fake-error-<status>``: that HTTP status with an OpenAI error body.
- ``resp-stall-<kind>-<n>``: a stream that sends its opening events and its first ``n`` deltas
  at once, then nothing until the gateway hangs up (at most ``STALL_SECONDS``, then the rest).
  Kinds: ``text`` (the reply), ``reasoning`` (a ``reasoning`` item first, its summary
  ``REASONING`` a word per ``response.reasoning_summary_text.delta``), ``tools`` (a call of the
  request's first function tool, or of ``get_weather``).
- ``fake-overbill``: a normal answer whose usage reports ``OVERBILL_TOKENS`` output tokens (all
  but the reply's as reasoning), whatever ``max_output_tokens`` it was sent.
- ``agent-reply``, ``agent-shell``: a coding agent's turns, a ``reasoning`` item first (with
  ``encrypted_content`` when ``include`` asks for it; tests/fakes/agent_turns.py).
- ``resp-cached``: a normal answer whose usage reports the words of ``instructions`` as read
  from the prompt cache (``input_tokens_details.cached_tokens``) and those of the first
  ``input`` item as written to it (``cache_write_tokens``, as GPT-5.6 reports writes), both
  inside ``input_tokens``.

Every request needs ``Authorization: Bearer <api_key>`` (401 otherwise). Streams (``"stream":
true``) send named events (``event: <type>``) with increasing ``sequence_number``:
``response.created``, ``response.in_progress``, ``response.output_item.added``, then for text
``response.content_part.added``, one ``response.output_text.delta`` per word (keeping its
trailing space), ``response.output_text.done``, ``response.content_part.done``; for a call
``response.function_call_arguments.delta`` per fragment and ``.done``; then
``response.output_item.done`` and ``response.completed``. There is no ``[DONE]``.

Usage is deterministic: ``input_tokens`` is the number of whitespace-separated words in
``instructions`` and in the text of every ``input`` item (string content, ``input_text`` and
``output_text`` parts, ``function_call_output`` output); ``output_tokens`` the words of the reply
(for a call, of its arguments).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import agent_turns
from tests.fakes.openai_upstream import OVERBILL_TOKENS, count_words, error_body
from tests.fakes.server import (
    FakeServer,
    RecordedRequest,
    open_event_stream,
    record,
    wait_for_hangup,
)

CALL_ID = "call_fake_resp_1"
CALL_ARGUMENTS = '{"city": "Paris"}'
CALL_ARGUMENT_FRAGMENTS = ('{"city": ', '"Paris"', "}")
REASONING = "Let me think this through carefully first."
STALL_SECONDS = 10.0

_ERROR_MODEL = re.compile(r"fake-error-(\d{3})")
_STALL_MODEL = re.compile(r"resp-stall-(text|reasoning|tools)-(\d+)")
_REPLY_PIECE = re.compile(r"\s*\S+\s*")
_BODY = web.RequestKey("body", dict)


def _text_words(content: Any) -> int:
    if isinstance(content, str):
        return count_words(content)
    total = 0
    for part in content if isinstance(content, list) else ():
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            total += count_words(part["text"])
    return total


def prompt_word_count(body: dict[str, Any]) -> int:
    """Words in ``instructions`` and in the text of every input item."""
    total = _text_words(body.get("instructions"))
    items = body.get("input")
    if isinstance(items, str):
        return total + count_words(items)
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            total += _text_words(item.get("output"))
        else:
            total += _text_words(item.get("content"))
    return total


def _first_function(body: dict[str, Any]) -> str | None:
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "function":
            return str(tool.get("name"))
    return None


def _sse(payload: dict[str, Any]) -> bytes:
    return b"event: " + payload["type"].encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class FakeResponsesUpstream(FakeServer):
    """Responses-API upstream on an ephemeral 127.0.0.1 port; see the module docstring."""

    url_path = "/v1"

    def __init__(
        self, api_key: str = "sk-fake-responses", reply: str = "This is a fake reply."
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)

    def configure(self, app: web.Application) -> None:
        app.middlewares.append(self._record_and_authenticate)
        app.router.add_post("/v1/responses", self._responses)

    @web.middleware
    async def _record_and_authenticate(
        self, request: web.Request, handler: Any
    ) -> web.StreamResponse:
        sent = await record(request)
        self.requests.append(sent)
        body = sent.json
        if sent.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401)
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _error(400, "The request body must be a JSON object with a model.")
        request[_BODY] = body
        return await handler(request)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = request[_BODY]
        if error := _ERROR_MODEL.fullmatch(body["model"]):
            return _error(int(error.group(1)))
        if (turn := agent_turns.responses_turn(body)) is not None:
            agent = agent_turns.ResponsesAnswer(
                turn, body, next(self._ids), prompt_word_count(body)
            )
            if not body.get("stream"):
                return web.json_response(agent.response(True))
            response = await open_event_stream(request)
            for event in agent.events():
                await response.write(_sse(event))
            await response.write_eof()
            return response
        answer = _Answer(self, body)
        if body.get("stream"):
            return await answer.stream(request)
        return web.json_response(answer.response("completed", answer.items("completed")))


def _error(status: int, message: str | None = None) -> web.Response:
    return web.Response(
        status=status, body=error_body(status, message), content_type="application/json"
    )


class _Answer:
    """One Response, whole or as its stream of events."""

    def __init__(self, upstream: FakeResponsesUpstream, body: dict[str, Any]) -> None:
        number = next(upstream._ids)
        self.body = body
        self.id = f"resp_fake{number:06d}"
        self.item_id = f"msg_fake{number:06d}" if not _first_function(body) else f"fc_fake{number}"
        self.created_at = int(time.time())
        stall = _STALL_MODEL.fullmatch(body["model"])
        self.stall = (stall.group(1), int(stall.group(2))) if stall else None
        self.function = _first_function(body)
        if self.stall and self.stall[0] == "tools":
            self.function = self.function or "get_weather"
            self.item_id = f"fc_fake{number}"
        self.pieces = _REPLY_PIECE.findall(upstream.reply)
        self.input_tokens = prompt_word_count(body)
        self.cache_read = self.cache_write = 0
        if body["model"] == "resp-cached":
            self.cache_read = _text_words(body.get("instructions"))
            first = body.get("input")[:1] if isinstance(body.get("input"), list) else []
            self.cache_write = prompt_word_count({"input": first})
        self.output_tokens = count_words(CALL_ARGUMENTS if self.function else upstream.reply)
        self.reasoning_tokens = 0
        if body["model"] == "fake-overbill":
            self.reasoning_tokens = OVERBILL_TOKENS - self.output_tokens
            self.output_tokens = OVERBILL_TOKENS
        self.sequence = itertools.count()

    def items(self, status: str) -> list[dict[str, Any]]:
        done = status == "completed"
        if self.function:
            arguments = CALL_ARGUMENTS if done else ""
            return [self.call_item(arguments, status)]
        return [self.message_item([self.text_part("".join(self.pieces))] if done else [], status)]

    def call_item(self, arguments: str, status: str) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "type": "function_call",
            "status": status,
            "call_id": CALL_ID,
            "name": self.function,
            "arguments": arguments,
        }

    def message_item(self, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    @staticmethod
    def text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        body = self.body
        usage = None
        if status == "completed":
            usage = {
                "input_tokens": self.input_tokens,
                "input_tokens_details": {
                    "cached_tokens": self.cache_read,
                    "cache_write_tokens": self.cache_write,
                },
                "output_tokens": self.output_tokens,
                "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
                "total_tokens": self.input_tokens + self.output_tokens,
            }
        tools = [
            {
                "type": "function",
                "name": tool.get("name"),
                "description": tool.get("description"),
                "parameters": tool.get("parameters"),
                "strict": tool.get("strict", True),
            }
            for tool in body.get("tools") or ()
            if isinstance(tool, dict)
        ]
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": body["model"],
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": tools,
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "metadata": body.get("metadata") or {},
            **({"user": body["user"]} if isinstance(body.get("user"), str) else {}),
            **({"usage": usage} if usage else {}),
        }

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "sequence_number": next(self.sequence), **fields}

    def reasoning_events(self) -> list[dict[str, Any]]:
        """A reasoning item whose summary arrives a word per delta (output index 0)."""
        item = {"id": "rs_fake", "type": "reasoning", "summary": []}
        where = {"item_id": "rs_fake", "output_index": 0, "summary_index": 0}
        part = {"type": "summary_text", "text": ""}
        events = [
            self.event("response.output_item.added", output_index=0, item=item),
            self.event("response.reasoning_summary_part.added", **where, part=part),
        ]
        for piece in _REPLY_PIECE.findall(REASONING):
            events.append(self.event("response.reasoning_summary_text.delta", **where, delta=piece))
        events.append(self.event("response.reasoning_summary_text.done", **where, text=REASONING))
        done = {**item, "summary": [{"type": "summary_text", "text": REASONING}]}
        events.append(self.event("response.output_item.done", output_index=0, item=done))
        return events

    def events(self) -> list[dict[str, Any]]:
        opened = self.response("in_progress", [])
        events = [
            self.event("response.created", response=opened),
            self.event("response.in_progress", response=opened),
        ]
        position = 0  # of the answer's item in the output
        if self.stall and self.stall[0] == "reasoning":
            events += self.reasoning_events()
            position = 1
        events.append(
            self.event(
                "response.output_item.added",
                output_index=position,
                item=self.items("in_progress")[0],
            )
        )
        where = {"item_id": self.item_id, "output_index": position}
        if self.function:
            for fragment in CALL_ARGUMENT_FRAGMENTS:
                events.append(
                    self.event("response.function_call_arguments.delta", **where, delta=fragment)
                )
            events.append(
                self.event(
                    "response.function_call_arguments.done",
                    **where,
                    name=self.function,
                    arguments=CALL_ARGUMENTS,
                )
            )
        else:
            where["content_index"] = 0
            events.append(
                self.event("response.content_part.added", **where, part=self.text_part(""))
            )
            for piece in self.pieces:
                events.append(
                    self.event("response.output_text.delta", **where, delta=piece, logprobs=[])
                )
            text = "".join(self.pieces)
            events.append(self.event("response.output_text.done", **where, text=text, logprobs=[]))
            events.append(
                self.event("response.content_part.done", **where, part=self.text_part(text))
            )
        (item,) = self.items("completed")
        events.append(self.event("response.output_item.done", output_index=position, item=item))
        final = self.response("completed", [item])
        events.append(self.event("response.completed", response=final))
        return events

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = await open_event_stream(request)
        events = self.events()
        if self.stall is not None:
            kind, sent = self.stall
            head = (3 if kind == "tools" else 4) + sent  # created, in_progress, item[, part]
            for event in events[:head]:
                await response.write(_sse(event))
            if await wait_for_hangup(request, STALL_SECONDS):
                return response
            events = events[head:]
        for event in events:
            await response.write(_sse(event))
        await response.write_eof()
        return response

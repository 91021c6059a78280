"""Streams both ways: OpenAI chat.completion.chunk objects as Anthropic Messages stream events,
and Anthropic stream events as chunks."""

import json
import time
from typing import Any

from gatewayz.protocols.anthropic.common import Event, upstream
from gatewayz.protocols.anthropic.replies import (
    FINISH_REASONS,
    anthropic_usage,
    openai_usage,
    reasoning_field,
    stop_reason,
    token_counts,
)
from gatewayz.protocols.anthropic.signature import Reasoning, sign
from gatewayz.protocols.checks import Json
from gatewayz.protocols.openai_chat import UpstreamStreamError

# --- OpenAI chat stream -> Anthropic Messages stream -------------------------------------


class ChatStreamToMessages:
    """OpenAI chat.completion.chunk objects in, Anthropic Messages stream events out.

    Reasoning (`reasoning_content` or `reasoning` deltas) becomes thinking blocks signed by the
    gateway for `provider` (see protocols.anthropic.signature), their text left out when
    `show_thinking` is false (`thinking.display: "omitted"`). The upstream reports usage only
    at the end: message_start carries `input_tokens`, an estimate (see
    protocols.anthropic.token_estimate), and message_delta the input and output tokens used.
    """

    def __init__(
        self,
        model: str,
        message_id: str,
        input_tokens: int = 0,
        provider: str = "",
        show_thinking: bool = True,
    ) -> None:
        self._model = model
        self._id = message_id
        self._input_tokens = input_tokens
        self._provider = provider
        self._show_thinking = show_thinking
        self._thinking: tuple[str, list[str]] | None = None  # the open block's field and text
        self._started = False
        self._blocks = 0
        self._open: tuple[str, int] | None = None
        self._closed_tools: set[int] = set()
        self._finish: Any = None
        self._usage: Json | None = None

    @property
    def usage(self) -> tuple[int, int] | None:
        """The last OpenAI usage seen, as (prompt_tokens, completion_tokens)."""
        if self._usage is None:
            return None
        return self._usage["prompt_tokens"], self._usage.get("completion_tokens") or 0

    def feed(self, chunk: Json) -> list[Event]:
        """The events for one OpenAI chunk (the first one also opens the message)."""
        chunk = upstream(chunk, "chunk")
        if "error" in chunk:
            error = chunk["error"]
            raise UpstreamStreamError(
                str(error.get("message") if isinstance(error, dict) else error)
            )
        usage = chunk.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            self._usage = usage
        events = self._start()
        choices = chunk.get("choices") or []
        if not choices:
            return events
        choice = upstream(choices[0], "choice")
        delta = upstream(choice.get("delta") or {}, "delta")
        reasoning = reasoning_field(delta)
        if reasoning is not None:
            events += self._reason(reasoning, delta[reasoning])
        for text in (delta.get("content"), delta.get("refusal")):
            if isinstance(text, str) and text:
                events += self._text(text)
        for call in delta.get("tool_calls") or []:
            events += self._tool(upstream(call, "tool call"))
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        """The closing events: the open block's stop, message_delta, message_stop."""
        events = self._start() + self._close()
        usage = anthropic_usage(self._usage) if self._usage else {"output_tokens": 0}
        called = bool(self._closed_tools)
        delta = {"stop_reason": stop_reason(self._finish, called), "stop_sequence": None}
        events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message: Json = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**anthropic_usage(self._usage), "output_tokens": 0},
        }
        if self._usage is None:
            message["usage"]["input_tokens"] = self._input_tokens
        return [("message_start", {"type": "message_start", "message": message})]

    def _open_block(self, kind: tuple[str, int], block: Json) -> list[Event]:
        events = self._close()
        self._open = kind
        self._blocks += 1
        start = {"type": "content_block_start", "index": self._blocks - 1, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        events: list[Event] = []
        if self._open[0] == "tool":
            self._closed_tools.add(self._open[1])
        if self._open[0] == "thinking" and self._thinking is not None:
            field, texts = self._thinking
            reasoning = Reasoning(self._provider, field, "".join(texts))
            events.append(self._delta({"type": "signature_delta", "signature": sign(reasoning)}))
            self._thinking = None
        self._open = None
        stop = {"type": "content_block_stop", "index": self._blocks - 1}
        return [*events, ("content_block_stop", stop)]

    def _delta(self, delta: Json) -> Event:
        data = {"type": "content_block_delta", "index": self._blocks - 1, "delta": delta}
        return ("content_block_delta", data)

    def _reason(self, field: str, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open != ("thinking", 0):
            block = {"type": "thinking", "thinking": "", "signature": ""}
            events = self._open_block(("thinking", 0), block)
            self._thinking = (field, [])
        assert self._thinking is not None
        self._thinking[1].append(text)
        if self._show_thinking:
            events.append(self._delta({"type": "thinking_delta", "thinking": text}))
        return events

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open != ("text", 0):
            events = self._open_block(("text", 0), {"type": "text", "text": ""})
        return [*events, self._delta({"type": "text_delta", "text": text})]

    def _tool(self, call: Json) -> list[Event]:
        index = call.get("index", 0)
        if not isinstance(index, int):
            raise ValueError("upstream tool call fragment has no integer index")
        function = upstream(call.get("function") or {}, "function")
        events: list[Event] = []
        if self._open != ("tool", index):
            if index in self._closed_tools:
                raise ValueError("upstream interleaved the fragments of parallel tool calls")
            name = function.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError("upstream tool call starts without a function name")
            tool_id = call.get("id") or f"toolu_{self._id}_{index}"
            block: Json = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
            events = self._open_block(("tool", index), block)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return events


# --- Anthropic stream -> OpenAI chat stream ----------------------------------------------


class MessagesStreamToChat:
    """Anthropic Messages stream events in, OpenAI chat.completion.chunk objects out: thinking
    as `reasoning_content`, and the call of `json_tool` (JSON mode, see
    protocols.anthropic.json_mode) as the answer's text."""

    def __init__(
        self, model: str, chunk_id: str, include_usage: bool, json_tool: str | None = None
    ) -> None:
        self._model = model
        self._id = chunk_id
        self._include_usage = include_usage
        self._json_tool = json_tool
        self._created = int(time.time())
        self._tools: dict[int, int] = {}
        self._json_blocks: set[Any] = set()
        self._finish = "stop"
        self._usage: Json | None = None

    @property
    def usage(self) -> tuple[int, int] | None:
        """(prompt tokens including cache, output tokens) once message_start has reported them."""
        if self._usage is None:
            return None
        prompt, _, output = token_counts(self._usage)
        return prompt, output

    def feed(self, event: str, data: Json) -> list[Json]:
        """The chunks for one Anthropic event; unknown events and pings yield none."""
        data = upstream(data, "event")
        if event == "error":
            error = data.get("error")
            raise UpstreamStreamError(
                str(error.get("message") if isinstance(error, dict) else error)
            )
        if event == "message_start":
            usage = upstream(data.get("message"), "message").get("usage")
            self._usage = dict(upstream(usage, "usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if event == "content_block_start":
            return self._block_start(data)
        if event == "content_block_delta":
            return self._block_delta(data)
        if event == "message_delta":
            if isinstance(data.get("usage"), dict):  # cumulative; null means unchanged
                known = {k: v for k, v in data["usage"].items() if v is not None}
                self._usage = {**(self._usage or {}), **known}
            reason = upstream(data.get("delta") or {}, "delta").get("stop_reason")
            if reason is not None:
                self._finish = FINISH_REASONS.get(reason, "stop")
            return []
        if event == "message_stop":
            return self._close()
        return []

    def _chunk(self, delta: Json, finish_reason: str | None = None) -> Json:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk: Json = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [choice],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _block_start(self, data: Json) -> list[Json]:
        block = upstream(data.get("content_block"), "content block")
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []
        if self._json_tool is not None and block.get("name") == self._json_tool:
            self._json_blocks.add(data.get("index", -1))
            answer = json.dumps(block["input"], ensure_ascii=False) if block.get("input") else ""
            return [self._chunk({"content": answer})] if answer else []
        self._tools[data.get("index", -1)] = position = len(self._tools)
        arguments = json.dumps(block["input"], ensure_ascii=False) if block.get("input") else ""
        call = {
            "index": position,
            "id": str(block.get("id")),
            "type": "function",
            "function": {"name": str(block.get("name")), "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, data: Json) -> list[Json]:
        delta = upstream(data.get("delta"), "delta")
        if delta.get("type") == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if delta.get("type") == "thinking_delta" and delta.get("thinking"):
            # As OpenAI-compatible reasoning models stream it (and so that it is counted).
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if delta.get("type") == "input_json_delta" and data.get("index", -1) in self._json_blocks:
            text = delta.get("partial_json")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        position = self._tools.get(data.get("index", -1))
        if (
            delta.get("type") == "input_json_delta"
            and position is not None
            and delta.get("partial_json")
        ):
            call = {"index": position, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _close(self) -> list[Json]:
        finish = self._finish
        if finish == "tool_calls" and self._json_blocks and not self._tools:  # JSON mode only
            finish = "stop"
        chunks = [self._chunk({}, finish)]
        if self._include_usage:
            usage = openai_usage(self._usage or {})
            chunks.append({**self._chunk({}), "choices": [], "usage": usage})
        return chunks

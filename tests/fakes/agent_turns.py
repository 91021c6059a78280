"""What the fake upstreams answer a coding agent (Codex, Claude Code): the ``agent-*`` models,
served in each fake's own wire format (chat completions, Messages, Gemini, Responses).

Every agent turn reasons first (``AGENT_REASONING``, as the format carries reasoning: chat
``reasoning_content``, an Anthropic ``thinking`` block with its signature, Gemini ``thought``
parts, a Responses ``reasoning`` item with its summary), then:

- ``agent-reply``: answers ``AGENT_REPLY``, whatever tools are offered.
- ``agent-shell``: until the conversation holds a tool result, calls the shell tool the agent
  offers (``exec_command``, Codex's, with ``{"cmd": SHELL_COMMAND}``; or ``shell`` with
  ``{"command": ["bash", "-lc", SHELL_COMMAND]}``); once it does, answers ``AGENT_DONE`` when
  that result holds ``SHELL_OUTPUT`` (the command really ran), else ``AGENT_NO_OUTPUT``.

Streams send the reasoning and the answer a word per delta (each word keeping its trailing
space) and a call's arguments whole. Usage is deterministic, as each fake counts it: the input
is the fake's own prompt word count; the output is the words of the reasoning plus those of the
answer text (or of the call's JSON arguments), the reasoning reported apart where the format
reports it (chat ``completion_tokens_details.reasoning_tokens``, Gemini ``thoughtsTokenCount``,
Responses ``output_tokens_details.reasoning_tokens``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

AGENT_MODELS = ("agent-reply", "agent-shell")
AGENT_REASONING = "Working out what the user needs first."
AGENT_REPLY = "Hello from the agent fake."
SHELL_COMMAND = "echo gatewayz-tool-ok"
SHELL_OUTPUT = "gatewayz-tool-ok"
AGENT_DONE = "The command printed gatewayz-tool-ok as expected."
AGENT_NO_OUTPUT = "The command printed nothing."
SIGNATURE = "ZmFrZS1zaWduYXR1cmU="
CALL_ID = "call_agent_1"
ENCRYPTED = "gAAAAfake-encrypted-reasoning"
_PIECE = re.compile(r"\s*\S+\s*")


def words(text: str) -> int:
    return len(text.split())


def pieces(text: str) -> list[str]:
    """The deltas a stream sends `text` in: a word each, keeping its trailing space."""
    return _PIECE.findall(text)


@dataclass(frozen=True)
class AgentTurn:
    """One answer: the reasoning, then either text or one call (tool name, arguments)."""

    reasoning: str
    text: str | None = None
    call: tuple[str, dict[str, Any]] | None = None

    @property
    def arguments(self) -> str:
        return json.dumps(self.call[1]) if self.call else ""

    @property
    def reasoning_tokens(self) -> int:
        return words(self.reasoning)

    @property
    def answer_tokens(self) -> int:
        return words(self.arguments) if self.call else words(self.text or "")

    @property
    def output_tokens(self) -> int:
        return self.reasoning_tokens + self.answer_tokens


def agent_turn(model: str, tool_names: list[str], tool_results: list[str]) -> AgentTurn | None:
    """The turn an ``agent-*`` model takes, given the tools offered and the text of the tool
    results so far; None for any other model."""
    if model == "agent-reply":
        return AgentTurn(AGENT_REASONING, text=AGENT_REPLY)
    if model != "agent-shell":
        return None
    if tool_results:
        done = any(SHELL_OUTPUT in result for result in tool_results)
        return AgentTurn(AGENT_REASONING, text=AGENT_DONE if done else AGENT_NO_OUTPUT)
    if "exec_command" in tool_names:
        return AgentTurn(AGENT_REASONING, call=("exec_command", {"cmd": SHELL_COMMAND}))
    if "shell" in tool_names:
        command = {"command": ["bash", "-lc", SHELL_COMMAND]}
        return AgentTurn(AGENT_REASONING, call=("shell", command))
    return AgentTurn(AGENT_REASONING, text=AGENT_NO_OUTPUT)


def text_of(content: Any) -> str:
    """The text of a string, or of the text-bearing parts of a list (nested results too)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return text_of(content.get("text") or content.get("content") or content.get("output"))
    if isinstance(content, list):
        return "\n".join(text_of(part) for part in content)
    return ""


# --- OpenAI chat completions --------------------------------------------------------------


def chat_turn(body: dict[str, Any]) -> AgentTurn | None:
    tools = [
        str((tool.get("function") or {}).get("name"))
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
    ]
    results = [
        text_of(message.get("content"))
        for message in body.get("messages") or ()
        if isinstance(message, dict) and message.get("role") == "tool"
    ]
    return agent_turn(str(body.get("model")), tools, results)


def chat_usage(turn: AgentTurn, prompt_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": prompt_tokens + turn.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
    }


def chat_completion(turn: AgentTurn, body: dict[str, Any], prompt_tokens: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": turn.text,
        "reasoning_content": turn.reasoning,
    }
    if turn.call:
        function = {"name": turn.call[0], "arguments": turn.arguments}
        message["tool_calls"] = [{"id": CALL_ID, "type": "function", "function": function}]
    choice = {"index": 0, "message": message, "finish_reason": _chat_finish(turn)}
    return {
        "id": "chatcmpl-agent",
        "object": "chat.completion",
        "created": 1,
        "model": body["model"],
        "choices": [choice],
        "usage": chat_usage(turn, prompt_tokens),
    }


def chat_chunks(turn: AgentTurn, body: dict[str, Any], prompt_tokens: int) -> list[Any]:
    """Every chunk of the stream, the usage chunk last (when asked for)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": "chatcmpl-agent",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
            "choices": [choice],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": piece}) for piece in pieces(turn.reasoning)]
    if turn.call:
        function = {"name": turn.call[0], "arguments": turn.arguments}
        call = {"index": 0, "id": CALL_ID, "type": "function", "function": function}
        chunks.append(chunk({"tool_calls": [call]}))
    else:
        chunks += [chunk({"content": piece}) for piece in pieces(turn.text or "")]
    chunks.append(chunk({}, _chat_finish(turn)))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        usage = {**chunk({}), "choices": [], "usage": chat_usage(turn, prompt_tokens)}
        chunks.append(usage)
    return chunks


def _chat_finish(turn: AgentTurn) -> str:
    return "tool_calls" if turn.call else "stop"


# --- Anthropic Messages -------------------------------------------------------------------


def messages_turn(body: dict[str, Any]) -> AgentTurn | None:
    tools = [str(tool.get("name")) for tool in body.get("tools") or () if isinstance(tool, dict)]
    results = [
        text_of(block.get("content"))
        for message in body.get("messages") or ()
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    return agent_turn(str(body.get("model")), tools, results)


def _messages_blocks(turn: AgentTurn) -> list[dict[str, Any]]:
    thinking = {"type": "thinking", "thinking": turn.reasoning, "signature": SIGNATURE}
    if turn.call:
        use = {"type": "tool_use", "id": "toolu_agent_1", "name": turn.call[0]}
        return [thinking, {**use, "input": turn.call[1]}]
    return [thinking, {"type": "text", "text": turn.text or ""}]


def message(turn: AgentTurn, body: dict[str, Any], input_tokens: int) -> dict[str, Any]:
    return {
        "id": "msg_agent",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": _messages_blocks(turn),
        "stop_reason": "tool_use" if turn.call else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": turn.output_tokens},
    }


def message_events(
    turn: AgentTurn, body: dict[str, Any], input_tokens: int
) -> list[tuple[str, dict[str, Any]]]:
    """Every (event name, data) of the stream."""
    whole = message(turn, body, input_tokens)
    start = {**whole, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": input_tokens, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    thinking, answer = _messages_blocks(turn)
    deltas = [[{"type": "thinking_delta", "thinking": p} for p in pieces(turn.reasoning)]]
    deltas[0].append({"type": "signature_delta", "signature": SIGNATURE})
    if turn.call:
        deltas.append([{"type": "input_json_delta", "partial_json": turn.arguments}])
        opened = {**answer, "input": {}}
    else:
        deltas.append([{"type": "text_delta", "text": p} for p in pieces(turn.text or "")])
        opened = {"type": "text", "text": ""}
    for index, block in enumerate([{**thinking, "thinking": "", "signature": ""}, opened]):
        start_block = {"type": "content_block_start", "index": index, "content_block": block}
        events.append(("content_block_start", start_block))
        for delta in deltas[index]:
            data = {"type": "content_block_delta", "index": index, "delta": delta}
            events.append(("content_block_delta", data))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    stop = {"stop_reason": whole["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": turn.output_tokens}
    events.append(("message_delta", {"type": "message_delta", "delta": stop, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


# --- Gemini generateContent ---------------------------------------------------------------


def gemini_turn(model: str, body: dict[str, Any]) -> AgentTurn | None:
    tools = [
        str(declaration.get("name"))
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
        for declaration in tool.get("functionDeclarations") or ()
        if isinstance(declaration, dict)
    ]
    results = [
        text_of((part["functionResponse"].get("response") or {}).get("content"))
        or json.dumps(part["functionResponse"].get("response"))
        for content in body.get("contents") or ()
        if isinstance(content, dict)
        for part in content.get("parts") or ()
        if isinstance(part, dict) and isinstance(part.get("functionResponse"), dict)
    ]
    return agent_turn(model, tools, results)


def gemini_usage(turn: AgentTurn, prompt_tokens: int) -> dict[str, Any]:
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": turn.answer_tokens,
        "thoughtsTokenCount": turn.reasoning_tokens,
        "totalTokenCount": prompt_tokens + turn.output_tokens,
    }


def gemini_responses(turn: AgentTurn, model: str, prompt_tokens: int) -> list[dict[str, Any]]:
    """The streamed GenerateContentResponses; the last carries finishReason and usage."""
    parts: list[dict[str, Any]] = [
        {"text": piece, "thought": True} for piece in pieces(turn.reasoning)
    ]
    if turn.call:
        parts.append({"functionCall": {"name": turn.call[0], "args": turn.call[1]}})
    else:
        parts += [{"text": piece} for piece in pieces(turn.text or "")]
    responses = []
    for index, part in enumerate(parts):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
        response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
        if index == len(parts) - 1:
            candidate["finishReason"] = "STOP"
            response["usageMetadata"] = gemini_usage(turn, prompt_tokens)
        responses.append(response)
    return responses


def gemini_response(turn: AgentTurn, model: str, prompt_tokens: int) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": turn.reasoning, "thought": True}]
    if turn.call:
        parts.append({"functionCall": {"name": turn.call[0], "args": turn.call[1]}})
    else:
        parts.append({"text": turn.text or ""})
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
    return {
        "candidates": [candidate],
        "usageMetadata": gemini_usage(turn, prompt_tokens),
        "modelVersion": model,
    }


# --- OpenAI Responses ---------------------------------------------------------------------


def responses_turn(body: dict[str, Any]) -> AgentTurn | None:
    tools: list[str] = []
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "function":
            tools.append(str(tool.get("name")))
    items = body.get("input") if isinstance(body.get("input"), list) else []
    results = [
        text_of(item.get("output"))
        for item in items
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    ]
    return agent_turn(str(body.get("model")), tools, results)


class ResponsesAnswer:
    """One agent turn as a Response and as its stream of events."""

    def __init__(self, turn: AgentTurn, body: dict[str, Any], number: int, input_tokens: int):
        self.turn = turn
        self.body = body
        self.id = f"resp_agent{number:06d}"
        self.input_tokens = input_tokens
        self._sequence = 0
        include = body.get("include") or ()
        self.encrypted = "reasoning.encrypted_content" in include

    def reasoning_item(self, done: bool) -> dict[str, Any]:
        summary = [{"type": "summary_text", "text": self.turn.reasoning}] if done else []
        item = {"id": f"rs_{self.id}", "type": "reasoning", "summary": summary}
        return item | ({"encrypted_content": ENCRYPTED} if self.encrypted else {})

    def answer_item(self, done: bool) -> dict[str, Any]:
        status = "completed" if done else "in_progress"
        if self.turn.call:
            arguments = self.turn.arguments if done else ""
            return {
                "id": f"fc_{self.id}",
                "type": "function_call",
                "status": status,
                "call_id": CALL_ID,
                "name": self.turn.call[0],
                "arguments": arguments,
            }
        content = [_output_text(self.turn.text or "")] if done else []
        return {
            "id": f"msg_{self.id}",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def response(self, done: bool) -> dict[str, Any]:
        output = [self.reasoning_item(True), self.answer_item(True)] if done else []
        response = {
            "id": self.id,
            "object": "response",
            "created_at": 1,
            "status": "completed" if done else "in_progress",
            "error": None,
            "incomplete_details": None,
            "instructions": self.body.get("instructions"),
            "max_output_tokens": self.body.get("max_output_tokens"),
            "model": self.body["model"],
            "output": output,
            "parallel_tool_calls": self.body.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": self.body.get("reasoning") or {"effort": None, "summary": None},
            "store": self.body.get("store", True),
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": self.body.get("tool_choice", "auto"),
            "tools": self.body.get("tools") or [],
            "top_p": 1.0,
            "truncation": "disabled",
            "metadata": {},
        }
        if done:
            response["usage"] = {
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": self.turn.output_tokens,
                "output_tokens_details": {"reasoning_tokens": self.turn.reasoning_tokens},
                "total_tokens": self.input_tokens + self.turn.output_tokens,
            }
        return response

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def events(self) -> list[dict[str, Any]]:
        """The whole stream, in OpenAI's order."""
        events = [
            self.event("response.created", response=self.response(False)),
            self.event("response.in_progress", response=self.response(False)),
        ]
        events += self._reasoning_events()
        item = self.answer_item(False)
        events.append(self.event("response.output_item.added", output_index=1, item=item))
        where = {"item_id": item["id"], "output_index": 1}
        if self.turn.call:
            arguments = self.turn.arguments
            events.append(
                self.event("response.function_call_arguments.delta", **where, delta=arguments)
            )
            events.append(
                self.event(
                    "response.function_call_arguments.done",
                    **where,
                    name=self.turn.call[0],
                    arguments=arguments,
                )
            )
        else:
            events += self._text_events({**where, "content_index": 0}, self.turn.text or "")
        events.append(
            self.event("response.output_item.done", output_index=1, item=self.answer_item(True))
        )
        events.append(self.event("response.completed", response=self.response(True)))
        return events

    def _reasoning_events(self) -> list[dict[str, Any]]:
        item = self.reasoning_item(False)
        where = {"item_id": item["id"], "output_index": 0, "summary_index": 0}
        text = self.turn.reasoning
        events = [
            self.event("response.output_item.added", output_index=0, item=item),
            self.event(
                "response.reasoning_summary_part.added",
                **where,
                part={"type": "summary_text", "text": ""},
            ),
        ]
        for piece in pieces(text):
            events.append(self.event("response.reasoning_summary_text.delta", **where, delta=piece))
        events.append(self.event("response.reasoning_summary_text.done", **where, text=text))
        events.append(
            self.event(
                "response.reasoning_summary_part.done",
                **where,
                part={"type": "summary_text", "text": text},
            )
        )
        events.append(
            self.event("response.output_item.done", output_index=0, item=self.reasoning_item(True))
        )
        return events

    def _text_events(self, where: dict[str, Any], text: str) -> list[dict[str, Any]]:
        events = [self.event("response.content_part.added", **where, part=_output_text(""))]
        for piece in pieces(text):
            events.append(
                self.event("response.output_text.delta", **where, delta=piece, logprobs=[])
            )
        events.append(self.event("response.output_text.done", **where, text=text, logprobs=[]))
        events.append(self.event("response.content_part.done", **where, part=_output_text(text)))
        return events


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

"""A chat.completion.chunk stream as Responses stream events, in the order OpenAI sends them.

Reasoning the upstream streams (`reasoning_content`, or `reasoning`) is a `reasoning` item whose
summary grows by `response.reasoning_summary_text.delta`, opened by
`response.output_item.added` and `response.reasoning_summary_part.added` and closed by
`.reasoning_summary_text.done`, `.reasoning_summary_part.done` and `response.output_item.done`
as soon as the answer starts (reasoning that resumes later opens a new item). The message and
the function calls stay open until the stream ends, since a chat stream only says a tool call
is complete when it ends.
"""

from dataclasses import dataclass, field
from typing import Any

from gatewayz.protocols.checks import Json
from gatewayz.protocols.responses.response import (
    call_item,
    call_item_ids,
    content_part,
    finish_status,
    message_item,
    message_item_id,
    reasoning_item,
    reasoning_item_id,
    reasoning_text,
    response_object,
    response_usage,
)
from gatewayz.protocols.responses.tools import ToolNames

_SUMMARY = {"type": "summary_text", "text": ""}


@dataclass(eq=False)
class _Reasoning:
    id: str
    text: list[str] = field(default_factory=list)
    closed: bool = False

    def item(self) -> Json:
        return reasoning_item(self.id, "".join(self.text))


@dataclass(eq=False)
class _Message:
    id: str
    parts: dict[str, list[str]] = field(default_factory=dict)  # in order: kind -> text

    def item(self, status: str) -> Json:
        parts = [content_part(kind, "".join(text)) for kind, text in self.parts.items()]
        return message_item(self.id, parts, status)


@dataclass(eq=False)
class _Call:
    ids: tuple[str, str]
    name: str
    arguments: list[str] = field(default_factory=list)

    def item(self, names: ToolNames, status: str) -> Json:
        return call_item(self.ids, names.responses(self.name), "".join(self.arguments), status)


class ChatStreamToResponses:
    """Responses stream events for a chat.completion.chunk stream, one chunk at a time.

    The caller turns an upstream error into `fail`. The opening events come first whichever
    method is called first.
    """

    def __init__(self, request: Json, response_id: str, created_at: int) -> None:
        self._request = request
        self._id = response_id
        self._created_at = created_at
        self._names = ToolNames(request.get("tools"))
        self._sequence = 0
        self._started = False
        self._items: list[_Reasoning | _Message | _Call] = []  # in output_index order
        self._message: _Message | None = None
        self._calls: dict[int, _Call] = {}  # chat tool-call index -> the call so far
        self._finish_reason: str | None = None
        self._usage: Json | None = None

    def start(self) -> list[Json]:
        """response.created and response.in_progress, the first time only."""
        if self._started:
            return []
        self._started = True
        response = self._snapshot("in_progress", [])
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def feed(self, chunk: Json) -> list[Json]:
        """The events for one chat.completion.chunk."""
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        events = self.start()
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            thought = reasoning_text(delta)
            if thought:
                events += self._reason(thought)
            for kind, key in (("output_text", "content"), ("refusal", "refusal")):
                if delta.get(key):
                    events += self._close_reasoning() + self._text(kind, delta[key])
            for call in delta.get("tool_calls") or []:
                events += self._close_reasoning() + self._call(call)
            self._finish_reason = choice.get("finish_reason") or self._finish_reason
        return events

    def finish(self) -> list[Json]:
        """The *.done events, then response.completed (or .incomplete) with the full Response."""
        events = self.start() + self._close_reasoning()
        if self._message is None and not self._calls:  # an empty answer is one empty message
            message, opened = self._open_message()
            events += opened + self._open_part(message, "output_text")
        status, reason = finish_status(self._finish_reason)
        item_status = "incomplete" if reason else "completed"
        for output_index, item in enumerate(self._items):
            if not isinstance(item, _Reasoning):
                events += self._done(output_index, self._item(item, item_status))
        response = self._snapshot(status, self._output(item_status), reason)
        return [*events, self._event(f"response.{status}", response=response)]

    def fail(self, message: str) -> list[Json]:
        """response.failed for an upstream that broke off mid-stream."""
        events = self.start()
        error = {"code": "server_error", "message": message}
        response = self._snapshot("failed", self._output("incomplete"), error=error)
        return [*events, self._event("response.failed", response=response)]

    def _event(self, kind: str, **fields: Any) -> Json:
        """An event with the next sequence number."""
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(
        self, status: str, output: list[Json], reason: str | None = None, error: Json | None = None
    ) -> Json:
        """The Response as it stands."""
        usage = response_usage(self._usage) if status != "in_progress" else None
        return response_object(
            self._request, self._id, self._created_at, status, output, usage, reason, error
        )

    def _item(self, item: _Reasoning | _Message | _Call, status: str) -> Json:
        if isinstance(item, _Reasoning):
            return item.item()
        if isinstance(item, _Message):
            return item.item(status)
        return item.item(self._names, status)

    def _output(self, status: str) -> list[Json]:
        """The output items as they stand, in output_index order."""
        return [self._item(item, status) for item in self._items]

    def _added(self, item: _Reasoning | _Message | _Call) -> Json:
        """output_item.added for a new item (empty, in progress)."""
        self._items.append(item)
        snapshot = self._item(item, "in_progress")
        if isinstance(item, _Reasoning):
            snapshot = reasoning_item(item.id, None)
        output_index = len(self._items) - 1
        return self._event("response.output_item.added", output_index=output_index, item=snapshot)

    # --- reasoning -----------------------------------------------------------------------

    def _reason(self, delta: str) -> list[Json]:
        """A reasoning delta, opening a reasoning item (and its summary part) first if needed."""
        events = []
        last = self._items[-1] if self._items else None
        if not isinstance(last, _Reasoning) or last.closed:
            count = sum(isinstance(item, _Reasoning) for item in self._items)
            last = _Reasoning(reasoning_item_id(self._id, count))
            added = "response.reasoning_summary_part.added"
            events.append(self._added(last))
            events.append(self._event(added, **self._at(last), part=_SUMMARY))
        last.text.append(delta)
        where = self._at(last)
        return [*events, self._event("response.reasoning_summary_text.delta", **where, delta=delta)]

    def _close_reasoning(self) -> list[Json]:
        """The events closing the open reasoning item, if there is one."""
        last = self._items[-1] if self._items else None
        if not isinstance(last, _Reasoning) or last.closed:
            return []
        last.closed = True
        text = "".join(last.text)
        where = self._at(last)
        part = {"type": "summary_text", "text": text}
        output_index = self._items.index(last)
        return [
            self._event("response.reasoning_summary_text.done", **where, text=text),
            self._event("response.reasoning_summary_part.done", **where, part=part),
            self._event("response.output_item.done", output_index=output_index, item=last.item()),
        ]

    def _at(self, reasoning: _Reasoning) -> Json:
        return {
            "item_id": reasoning.id,
            "output_index": self._items.index(reasoning),
            "summary_index": 0,
        }

    # --- the message ---------------------------------------------------------------------

    def _text(self, kind: str, delta: str) -> list[Json]:
        """A text or refusal delta, opening the message and its part first if needed."""
        message, events = self._open_message()
        if kind not in message.parts:
            events += self._open_part(message, kind)
        message.parts[kind].append(delta)
        event = "response.output_text.delta" if kind == "output_text" else "response.refusal.delta"
        extra: dict[str, list[Any]] = {"logprobs": []} if kind == "output_text" else {}
        return [*events, self._event(event, **self._where(message, kind), delta=delta, **extra)]

    def _open_message(self) -> tuple[_Message, list[Json]]:
        """The message, and output_item.added if it opens now."""
        if self._message is not None:
            return self._message, []
        self._message = _Message(message_item_id(self._id))
        return self._message, [self._added(self._message)]

    def _open_part(self, message: _Message, kind: str) -> list[Json]:
        """content_part.added for a new part of the message."""
        message.parts[kind] = []
        part = content_part(kind, "")
        return [self._event("response.content_part.added", **self._where(message, kind), part=part)]

    def _where(self, message: _Message, kind: str) -> Json:
        """item_id, output_index and content_index of a message part."""
        return {
            "item_id": message.id,
            "output_index": self._items.index(message),
            "content_index": list(message.parts).index(kind),
        }

    # --- function calls ------------------------------------------------------------------

    def _call(self, fragment: Json) -> list[Json]:
        """A tool call fragment: output_item.added the first time, then its arguments."""
        index = fragment.get("index", 0)
        function = fragment.get("function") or {}
        events = []
        call = self._calls.get(index)
        if call is None:
            ids = call_item_ids(self._id, len(self._calls), fragment.get("id"))
            call = self._calls[index] = _Call(ids, function.get("name") or "")
            events.append(self._added(call))
        call.name = call.name or function.get("name") or ""
        if function.get("arguments"):
            call.arguments.append(function["arguments"])
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.ids[0],
                    output_index=self._items.index(call),
                    delta=function["arguments"],
                )
            )
        return events

    def _done(self, output_index: int, item: Json) -> list[Json]:
        """The *.done events closing a message or a function call."""
        events = []
        if item["type"] == "function_call":
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=output_index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        for content_index, part in enumerate(item.get("content", [])):
            where = {
                "item_id": item["id"],
                "output_index": output_index,
                "content_index": content_index,
            }
            if part["type"] == "output_text":
                events.append(
                    self._event(
                        "response.output_text.done", **where, text=part["text"], logprobs=[]
                    )
                )
            else:
                events.append(
                    self._event("response.refusal.done", **where, refusal=part["refusal"])
                )
            events.append(self._event("response.content_part.done", **where, part=part))
        events.append(
            self._event("response.output_item.done", output_index=output_index, item=item)
        )
        return events

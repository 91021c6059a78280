"""A chat.completion.chunk stream as Responses stream events."""

from typing import Any

from gatewayz.protocols.checks import Json
from gatewayz.protocols.responses.response import (
    call_item,
    call_item_ids,
    content_part,
    finish_status,
    message_item,
    message_item_id,
    response_object,
    response_usage,
)


class ChatStreamToResponses:
    """Responses stream events for a chat.completion.chunk stream, one chunk at a time.

    Items stay open until `finish`, since a chat stream only says a tool call is complete
    when it ends. The caller turns an upstream error into `fail`. The opening events come
    first whichever method is called first.
    """

    def __init__(self, request: Json, response_id: str, created_at: int) -> None:
        self._request = request
        self._id = response_id
        self._created_at = created_at
        self._sequence = 0
        self._started = False
        self._order: list[int | None] = []  # per output_index: a tool call index, None: message
        self._parts: dict[str, list[str]] = {}  # message content parts in order: kind -> text
        self._calls: dict[int, Json] = {}  # chat tool-call index -> the call so far
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
            for kind, key in (("output_text", "content"), ("refusal", "refusal")):
                if delta.get(key):
                    events += self._text(kind, delta[key])
            for call in delta.get("tool_calls") or []:
                events += self._call(call)
            self._finish_reason = choice.get("finish_reason") or self._finish_reason
        return events

    def finish(self) -> list[Json]:
        """The *.done events, then response.completed (or .incomplete) with the full Response."""
        events = self.start()
        if not self._order:  # an empty answer is still one (empty) message
            events += self._open_message() + self._open_part("output_text")
        status, reason = finish_status(self._finish_reason)
        output = self._output("incomplete" if reason else "completed")
        for output_index, item in enumerate(output):
            events += self._done(output_index, item)
        response = self._snapshot(status, output, reason)
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

    def _text(self, kind: str, delta: str) -> list[Json]:
        """A text or refusal delta, opening the message and its part first if needed."""
        events = [] if None in self._order else self._open_message()
        if kind not in self._parts:
            events += self._open_part(kind)
        self._parts[kind].append(delta)
        event = "response.output_text.delta" if kind == "output_text" else "response.refusal.delta"
        extra = {"logprobs": []} if kind == "output_text" else {}
        return [*events, self._event(event, **self._where(kind), delta=delta, **extra)]

    def _open_message(self) -> list[Json]:
        """output_item.added for the message."""
        self._order.append(None)
        item = message_item(message_item_id(self._id), [], "in_progress")
        return [
            self._event("response.output_item.added", output_index=len(self._order) - 1, item=item)
        ]

    def _open_part(self, kind: str) -> list[Json]:
        """content_part.added for a new part of the message."""
        self._parts[kind] = []
        part = content_part(kind, "")
        return [self._event("response.content_part.added", **self._where(kind), part=part)]

    def _where(self, kind: str) -> Json:
        """item_id, output_index and content_index of a message part."""
        return {
            "item_id": message_item_id(self._id),
            "output_index": self._order.index(None),
            "content_index": list(self._parts).index(kind),
        }

    def _call(self, fragment: Json) -> list[Json]:
        """A tool call fragment: output_item.added the first time, then its arguments."""
        index = fragment.get("index", 0)
        function = fragment.get("function") or {}
        events = []
        call = self._calls.get(index)
        if call is None:
            call = {
                "ids": call_item_ids(self._id, len(self._calls), fragment.get("id")),
                "name": function.get("name") or "",
                "arguments": [],
                "output_index": len(self._order),
            }
            self._calls[index] = call
            self._order.append(index)
            item = call_item(call["ids"], call["name"], "", "in_progress")
            events.append(
                self._event(
                    "response.output_item.added", output_index=call["output_index"], item=item
                )
            )
        call["name"] = call["name"] or function.get("name") or ""
        if function.get("arguments"):
            call["arguments"].append(function["arguments"])
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call["ids"][0],
                    output_index=call["output_index"],
                    delta=function["arguments"],
                )
            )
        return events

    def _output(self, status: str) -> list[Json]:
        """The output items as they stand, in output_index order."""
        items = []
        for index in self._order:
            if index is None:
                parts = [content_part(kind, "".join(text)) for kind, text in self._parts.items()]
                items.append(message_item(message_item_id(self._id), parts, status))
            else:
                call = self._calls[index]
                arguments = "".join(call["arguments"])
                items.append(call_item(call["ids"], call["name"], arguments, status))
        return items

    def _done(self, output_index: int, item: Json) -> list[Json]:
        """The *.done events closing one output item."""
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

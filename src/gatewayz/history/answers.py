"""The assistant message to store for a chat completion: from a whole answer, or accumulated
from a stream's chunks. Only the first choice is kept."""

from typing import Any

Json = dict[str, Any]


def assistant_message(content: str | None, tool_calls: list[Json]) -> Json:
    """An assistant message as a client sends it back: content, and tool calls if any."""
    message: Json = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def reply_message(data: Json) -> Json | None:
    """The first choice's message of a chat completion, or None if it has none."""
    choices = data.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    calls = message.get("tool_calls")
    return assistant_message(
        content if isinstance(content, str) else None,
        [call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else [],
    )


class StreamedAnswer:
    """Accumulates the first choice's text and tool calls from chat.completion.chunk objects."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, Json] = {}

    def add(self, chunk: Json) -> None:
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                continue
            if isinstance(delta.get("content"), str):
                self._text.append(delta["content"])
            calls = delta.get("tool_calls")
            for call in calls if isinstance(calls, list) else ():
                if isinstance(call, dict):
                    self._add_call(call)

    def _add_call(self, part: Json) -> None:
        """Merge one tool call fragment into the call with its index."""
        index = part.get("index")
        call = self._calls.setdefault(
            index if isinstance(index, int) else len(self._calls),
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if isinstance(part.get("id"), str):
            call["id"] = part["id"]
        if isinstance(part.get("type"), str):
            call["type"] = part["type"]
        function = part.get("function")
        if isinstance(function, dict):
            for field in ("name", "arguments"):
                if isinstance(function.get(field), str):
                    call["function"][field] += function[field]

    def message(self) -> Json:
        calls = [self._calls[index] for index in sorted(self._calls)]
        text = "".join(self._text)
        return assistant_message(text if text or not calls else None, calls)

"""OpenAI chat completions (and their chunks) as Gemini GenerateContentResponses, for Gemini
clients served by upstreams of other formats.

Finish reasons: stop and tool_calls -> STOP, length -> MAX_TOKENS, content_filter -> SAFETY.
Tool calls become whole `functionCall` parts carrying the upstream's call id (`id`), which a
client's `functionResponse` may quote back. Reasoning (`reasoning_content`/`reasoning`)
becomes `thought` parts only when the client asked for thoughts (`includeThoughts`); it is
billed either way. A stream sends text and thoughts as they come, each candidate's function
calls once the upstream has finished it, and one last response with the finish reasons and
the usage.
"""

from typing import Any

import orjson

from gatewayz.protocols.checks import Json

_FINISH = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}


def finish_reason(reason: Any) -> str:
    """The Gemini finishReason for an OpenAI finish_reason."""
    return _FINISH.get(reason, "STOP") if isinstance(reason, str) else "STOP"


def usage_metadata(usage: Any) -> Json | None:
    """Gemini usageMetadata for an OpenAI usage object (reasoning as thoughtsTokenCount)."""
    if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int):
        return None
    prompt = usage["prompt_tokens"]
    completion = usage.get("completion_tokens") or 0
    details = usage.get("completion_tokens_details") or {}
    thoughts = min(details.get("reasoning_tokens") or 0, completion)
    meta: Json = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion - thoughts,
        "totalTokenCount": prompt + completion,
    }
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, int) and cached:
        meta["cachedContentTokenCount"] = cached
    return meta


def function_call(call: Json) -> Json:
    """A whole functionCall part for a complete chat tool call."""
    function = call.get("function") or {}
    try:
        args = orjson.loads(function.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):  # Gemini's args are an object; keep what was written
        args = {"arguments": function.get("arguments")}
    out: Json = {"name": function.get("name") or "", "args": args}
    if call.get("id"):
        out["id"] = call["id"]
    return {"functionCall": out}


def _reasoning(part: Json) -> str | None:
    text = part.get("reasoning_content") or part.get("reasoning")
    return text if isinstance(text, str) and text else None


def chat_to_gemini_response(chat: Json, model: str, include_thoughts: bool) -> Json:
    """The GenerateContentResponse for a chat.completion."""
    candidates: list[Json] = []
    for position, choice in enumerate(chat.get("choices") or ()):
        message = choice.get("message") or {}
        parts: list[Json] = []
        thoughts = _reasoning(message)
        if include_thoughts and thoughts:
            parts.append({"text": thoughts, "thought": True})
        for text in (message.get("content"), message.get("refusal")):
            if isinstance(text, str) and text:
                parts.append({"text": text})
        parts.extend(function_call(call) for call in message.get("tool_calls") or ())
        candidate: Json = {
            "content": {"role": "model", "parts": parts},
            "finishReason": finish_reason(choice.get("finish_reason")),
            "index": choice.get("index", position),
        }
        candidates.append(candidate)
    out: Json = {"candidates": candidates}
    meta = usage_metadata(chat.get("usage"))
    if meta is not None:
        out["usageMetadata"] = meta
    out["modelVersion"] = model
    if isinstance(chat.get("id"), str):
        out["responseId"] = chat["id"]
    return out


class ChatStreamToGemini:
    """chat.completion.chunk dicts in, streamed GenerateContentResponses out."""

    def __init__(self, model: str, include_thoughts: bool) -> None:
        self._model = model
        self._thoughts = include_thoughts
        self._id: str | None = None
        self._calls: dict[int, dict[int, Json]] = {}
        self._finish: dict[int, str] = {}
        self._usage: Json | None = None

    def feed(self, chunk: Json) -> list[Json]:
        """The responses for one chunk: its text and thoughts (calls wait for the end)."""
        if self._id is None and isinstance(chunk.get("id"), str):
            self._id = chunk["id"]
        meta = usage_metadata(chunk.get("usage"))
        if meta is not None:
            self._usage = meta
        candidates: list[Json] = []
        for choice in chunk.get("choices") or ():
            index = choice.get("index", 0)
            delta = choice.get("delta") or {}
            self._calls.setdefault(index, {})
            for call in delta.get("tool_calls") or ():
                self._add_call(index, call)
            parts: list[Json] = []
            thoughts = _reasoning(delta)
            if self._thoughts and thoughts:
                parts.append({"text": thoughts, "thought": True})
            for text in (delta.get("content"), delta.get("refusal")):
                if isinstance(text, str) and text:
                    parts.append({"text": text})
            finished = bool(choice.get("finish_reason"))
            if finished:  # the calls are whole now (a candidate always shows once)
                self._finish[index] = finish_reason(choice["finish_reason"])
                calls = self._calls[index]
                parts.extend(function_call(calls[k]) for k in sorted(calls))
            if parts or finished:
                candidates.append({"content": {"role": "model", "parts": parts}, "index": index})
        return [self._response(candidates)] if candidates else []

    def finish(self) -> list[Json]:
        """The last response: each candidate's finish reason, and the usage."""
        candidates: list[Json] = []
        for index in sorted(self._calls) or [0]:
            candidate: Json = {"content": {"role": "model", "parts": []}}
            candidate["finishReason"] = self._finish.get(index, "STOP")
            candidate["index"] = index
            candidates.append(candidate)
        response = self._response(candidates)
        if self._usage is not None:
            response["usageMetadata"] = self._usage
        return [response]

    def _add_call(self, index: int, fragment: Json) -> None:
        """Join a tool call's streamed fragments (id and name first, arguments in pieces)."""
        calls = self._calls[index]
        call = calls.setdefault(fragment.get("index", len(calls)), {"function": {}})
        if fragment.get("id"):
            call["id"] = fragment["id"]
        function = fragment.get("function") or {}
        if function.get("name"):
            call["function"]["name"] = function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] = (
                call["function"].get("arguments", "") + function["arguments"]
            )

    def _response(self, candidates: list[Json]) -> Json:
        out: Json = {"candidates": candidates, "modelVersion": self._model}
        if self._id:
            out["responseId"] = self._id
        return out

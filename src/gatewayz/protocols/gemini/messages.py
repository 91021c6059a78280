"""The contents of a Gemini request as OpenAI chat messages.

Function calls carry no id in Gemini (or an optional one): each `functionCall` of a model turn
gets its own `id`, or a made-up one, and each `functionResponse` answers the call it names by
`id`, else the earliest call of that name not answered yet. Thoughts of earlier model turns
and thought signatures are Gemini's own: left out, and named.
"""

from collections import deque
from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json
from gatewayz.protocols.fields import Dropped

_AUDIO = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mp3": "mp3", "audio/mpeg": "mp3"}


def _refuse(path: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"'{path}' {why}", param=path)


def _parts(content: Any, path: str) -> list[Any]:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        raise _refuse(f"{path}.parts", "must be an array of parts.")
    return parts


def system_text(instruction: Any) -> str:
    """The text of a systemInstruction (its text parts, one per line)."""
    texts = []
    for j, part in enumerate(_parts(instruction, "systemInstruction")):
        text = part.get("text") if isinstance(part, dict) else None
        if not isinstance(text, str):
            raise _refuse(f"systemInstruction.parts.{j}", "must be a text part.")
        texts.append(text)
    return "\n".join(texts)


class _Calls:
    """The ids of the function calls met so far, to match function responses to them."""

    def __init__(self) -> None:
        self._open: dict[str, deque[str]] = {}
        self._ids: set[str] = set()
        self._count = 0

    def called(self, name: str, given: Any) -> str:
        self._count += 1
        call_id = given if isinstance(given, str) and given else f"call_gz{self._count}"
        self._open.setdefault(name, deque()).append(call_id)
        self._ids.add(call_id)
        return call_id

    def answered(self, name: str, given: Any, path: str) -> str:
        waiting = self._open.get(name) or deque()
        if isinstance(given, str) and given in self._ids:
            if given in waiting:
                waiting.remove(given)
            return given
        if not waiting:
            raise _refuse(path, f"answers no earlier functionCall of '{name}'.")
        return waiting.popleft()


def chat_messages(contents: Any, dropped: Dropped) -> list[Json]:
    """The chat messages for a request's `contents` (user and model turns)."""
    if not isinstance(contents, list) or not contents:
        raise _refuse("contents", "must be a non-empty array.")
    calls = _Calls()
    messages: list[Json] = []
    for i, content in enumerate(contents):
        path = f"contents.{i}"
        role = content.get("role", "user") if isinstance(content, dict) else None
        if role == "model":
            messages.extend(_model_turn(_parts(content, path), path, calls, dropped))
        elif role in ("user", "function"):
            messages.extend(_user_turn(_parts(content, path), path, calls, dropped))
        else:
            raise _refuse(f"{path}.role", "must be user or model.")
    return messages


def _model_turn(parts: list[Any], path: str, calls: _Calls, dropped: Dropped) -> list[Json]:
    texts: list[str] = []
    tool_calls: list[Json] = []
    for j, part in enumerate(parts):
        where = f"{path}.parts.{j}"
        part = _part(part, where, dropped)
        if part is None:
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            name = call.get("name")
            if not isinstance(name, str) or not name:
                raise _refuse(f"{where}.functionCall.name", "must be a function name.")
            arguments = orjson.dumps(call.get("args") or {}).decode()
            function = {"name": name, "arguments": arguments}
            call_id = calls.called(name, call.get("id"))
            tool_calls.append({"id": call_id, "type": "function", "function": function})
        else:
            raise _refuse(where, "is not a part a model turn can be sent with here.")
    if not texts and not tool_calls:
        return []
    message: Json = {"role": "assistant", "content": "".join(texts) or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return [message]


def _user_turn(parts: list[Any], path: str, calls: _Calls, dropped: Dropped) -> list[Json]:
    """Tool messages for the turn's function responses, then a user message for the rest."""
    results: list[Json] = []
    content: list[Json] = []
    for j, part in enumerate(parts):
        where = f"{path}.parts.{j}"
        part = _part(part, where, dropped)
        if part is None:
            continue
        if isinstance(part.get("functionResponse"), dict):
            answer = part["functionResponse"]
            name = answer.get("name")
            if not isinstance(name, str) or not name:
                raise _refuse(f"{where}.functionResponse.name", "must be a function name.")
            call_id = calls.answered(name, answer.get("id"), f"{where}.functionResponse")
            output = orjson.dumps(answer.get("response") or {}).decode()
            results.append({"role": "tool", "tool_call_id": call_id, "content": output})
        else:
            content.append(_user_part(part, where))
    if not content:
        return results
    only_text = len(content) == 1 and content[0]["type"] == "text"
    return [*results, {"role": "user", "content": content[0]["text"] if only_text else content}]


def _part(part: Any, path: str, dropped: Dropped) -> Json | None:
    """The part, without what only Gemini reads; None for a part left out (a thought)."""
    if not isinstance(part, dict):
        raise _refuse(path, "must be an object.")
    if part.get("thought") is True:
        dropped.drop(path, "the model's thoughts of an earlier turn are Gemini's own")
        return None
    if part.get("thoughtSignature") is not None:
        dropped.drop(f"{path}.thoughtSignature", "thought signatures are Gemini's own")
    return {k: v for k, v in part.items() if k not in ("thought", "thoughtSignature")}


def _user_part(part: Json, path: str) -> Json:
    """A chat content part for a text, inlineData or fileData part."""
    if isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    inline = part.get("inlineData")
    if isinstance(inline, dict):
        mime, data = inline.get("mimeType"), inline.get("data")
        if not isinstance(mime, str) or not isinstance(data, str):
            raise _refuse(f"{path}.inlineData", "needs a mimeType and base64 data.")
        if mime.startswith("image/"):
            return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
        if mime in _AUDIO:
            return {"type": "input_audio", "input_audio": {"data": data, "format": _AUDIO[mime]}}
        if mime == "application/pdf":
            file = {"filename": "document.pdf", "file_data": f"data:{mime};base64,{data}"}
            return {"type": "file", "file": file}
        raise _refuse(f"{path}.inlineData.mimeType", f"{mime!r} cannot be sent to this model.")
    stored = part.get("fileData")
    if isinstance(stored, dict):
        uri, mime = stored.get("fileUri"), stored.get("mimeType")
        http = isinstance(uri, str) and uri.startswith(("http://", "https://"))
        if not isinstance(uri, str) or not http or "generativelanguage.googleapis.com" in uri:
            raise _refuse(f"{path}.fileData.fileUri", "must be a public http(s) URL here.")
        if isinstance(mime, str) and not mime.startswith("image/"):
            raise _refuse(f"{path}.fileData.mimeType", "must be an image type for a URL.")
        return {"type": "image_url", "image_url": {"url": uri}}
    kinds = ", ".join(sorted(part)) or "nothing"
    raise _refuse(path, f"holds {kinds}, which cannot be sent to this model.")

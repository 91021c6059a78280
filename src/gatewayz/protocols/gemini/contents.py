"""The messages of an OpenAI chat request as Gemini contents and a system instruction."""

from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, array, obj, string
from gatewayz.protocols.gemini.call_ids import PLACEHOLDER_SIGNATURE, signature_of

_MESSAGE_KEYS = {
    **dict.fromkeys(("system", "developer", "user"), frozenset({"role", "content"})),
    "assistant": frozenset({"role", "content", "tool_calls"}),
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
_TEXT = frozenset({"text"})
_USER_PARTS = frozenset({"text", "image_url", "input_audio"})
_IMAGE_TYPES = {
    "jpg": "image/jpeg",
    **{ext: f"image/{ext}" for ext in ("png", "jpeg", "webp", "gif", "heic", "heif")},
}


def to_contents(messages: Any) -> tuple[list[Json], list[Json]]:
    """System instruction parts (all system/developer messages) and turns, same roles merged."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    system: list[Json] = []
    contents: list[Json] = []
    calls: dict[str, str] = {}
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        role = _check_message(message, path)
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content"), path, _TEXT))
            continue
        if role == "user":
            turn, parts = "user", _parts(message.get("content"), path, _USER_PARTS)
        elif role == "assistant":
            turn, parts = "model", _assistant_parts(message, path, calls)
        else:
            turn, parts = "user", [_tool_result(message, path, calls)]
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        elif parts:
            contents.append({"role": turn, "parts": parts})
    if not contents:
        raise InvalidRequest(
            "'messages' must hold a non-empty user, assistant or tool message.", param="messages"
        )
    for content in contents:
        first_call = next((p for p in content["parts"] if "functionCall" in p), None)
        if first_call is not None:
            first_call.setdefault("thoughtSignature", PLACEHOLDER_SIGNATURE)
    return system, contents


def _check_message(message: Any, path: str) -> str:
    """The message's role, once every field it sets is one Gemini can express."""
    role = message.get("role") if isinstance(message, dict) else None
    allowed = _MESSAGE_KEYS.get(role) if isinstance(role, str) else None
    if allowed is None:
        roles = ", ".join(_MESSAGE_KEYS)
        raise InvalidRequest(f"'{path}.role' must be one of {roles}.", param=f"{path}.role")
    for key, value in message.items():
        if key not in allowed and value is not None:
            raise InvalidRequest(
                f"'{key}' in {role} messages is not supported by Gemini models.",
                param=f"{path}.{key}",
            )
    return str(role)


def _parts(content: Any, path: str, allowed: frozenset[str]) -> list[Json]:
    """Gemini parts for a message content: a string or an array of typed parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(
            f"'{path}.content' must be a string or an array.", param=f"{path}.content"
        )
    parts: list[Json] = []
    for j, item in enumerate(content):
        where = f"{path}.content.{j}"
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in allowed:
            raise InvalidRequest(
                f"Content parts of type {kind!r} are not supported here by Gemini models.",
                param=f"{where}.type",
            )
        if kind == "text":
            text = string(item.get("text"), f"{where}.text")
            if text:
                parts.append({"text": text})
        elif kind == "image_url":
            parts.append(_image(item.get("image_url"), f"{where}.image_url"))
        else:
            audio = obj(item.get("input_audio"), f"{where}.input_audio")
            data = string(audio.get("data"), f"{where}.input_audio.data")
            fmt = string(audio.get("format"), f"{where}.input_audio.format")
            parts.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": data}})
    return parts


def _image(image_url: Any, path: str) -> Json:
    """An inlineData part for a data: URL, a fileData part for an http(s) URL."""
    url = string(obj(image_url, path).get("url"), f"{path}.url")
    if url.startswith("data:"):
        header, comma, data = url[5:].partition(",")
        mime = header.removesuffix(";base64")
        if not comma or not mime or mime == header:
            raise InvalidRequest(
                "An image data: URL must look like data:<mime type>;base64,<data>.",
                param=f"{path}.url",
            )
        return {"inlineData": {"mimeType": mime, "data": data}}
    if url.startswith(("http://", "https://")):
        extension = url.split("?", 1)[0].split("#", 1)[0].rsplit(".", 1)[-1].lower()
        return {"fileData": {"mimeType": _IMAGE_TYPES.get(extension, "image/jpeg"), "fileUri": url}}
    raise InvalidRequest("An image URL must be a data: URL or an http(s) URL.", param=f"{path}.url")


def _assistant_parts(message: Json, path: str, calls: dict[str, str]) -> list[Json]:
    """Text and functionCall parts of an assistant message; records each call's name by id."""
    parts = _parts(message.get("content"), path, _TEXT)
    tool_calls = message.get("tool_calls")
    if tool_calls is None:
        return parts
    for k, call in enumerate(array(tool_calls, f"{path}.tool_calls")):
        where = f"{path}.tool_calls.{k}"
        if not isinstance(call, dict) or call.get("type", "function") != "function":
            raise InvalidRequest(
                "Only function tool calls are supported by Gemini models.", param=f"{where}.type"
            )
        call_id = string(call.get("id"), f"{where}.id")
        function = obj(call.get("function"), f"{where}.function")
        name = string(function.get("name"), f"{where}.function.name")
        arguments = string(function.get("arguments"), f"{where}.function.arguments")
        try:
            args = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            raise InvalidRequest(
                "Tool call arguments must be a JSON object.", param=f"{where}.function.arguments"
            )
        part: Json = {"functionCall": {"name": name, "args": args}}
        signature = signature_of(call_id)
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
        calls[call_id] = name
    return parts


def _tool_result(message: Json, path: str, calls: dict[str, str]) -> Json:
    """A functionResponse part, named after the assistant tool call it answers."""
    call_id = string(message.get("tool_call_id"), f"{path}.tool_call_id")
    name = calls.get(call_id)
    if name is None:
        raise InvalidRequest(
            f"tool_call_id {call_id!r} matches no tool call of an earlier assistant message.",
            param=f"{path}.tool_call_id",
        )
    text = "".join(part["text"] for part in _parts(message.get("content"), path, _TEXT))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    return {"functionResponse": {"name": name, "response": {"content": value}}}

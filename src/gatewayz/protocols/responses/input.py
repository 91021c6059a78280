"""The `input` of a CreateResponse (a string or a list of items) as chat messages."""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, obj
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.responses.common import only, string_field
from gatewayz.protocols.responses.tools import ToolNames

_ROLES = frozenset({"user", "assistant", "system", "developer"})
_IMAGE_DETAIL = frozenset({"auto", "low", "high"})
_CALL = frozenset({"type", "id", "status", "call_id", "name", "arguments", "namespace"})
_OUTPUT = frozenset({"type", "id", "status", "call_id", "output", "name", "namespace"})
_REPLAYED = "reasoning from an earlier turn, which a chat completions model takes no part of back"


def chat_messages(input_: Any, names: ToolNames, dropped: Dropped) -> list[Json]:
    """Chat messages for the `input` string or item list; a function call of a namespace
    takes its chat name (see protocols.responses.tools), replayed reasoning is dropped."""
    if isinstance(input_, str):
        return [{"role": "user", "content": input_}]
    if not isinstance(input_, list) or not input_:
        raise InvalidRequest("'input' must be a string or a non-empty array.", param="input")
    messages: list[Json] = []
    for i, raw in enumerate(input_):
        where = f"input[{i}]"
        item = obj(raw, where)
        kind = item.get("type") or "message"
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "reasoning":
            dropped.drop(f"input.{i}", _REPLAYED)
        elif kind == "function_call":
            call = _call(item, where, names)
            last = messages[-1] if messages else {}
            if last.get("role") == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            only(item, _OUTPUT, where)
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": string_field(item, "call_id", where),
                    "content": output
                    if isinstance(output, str)
                    else _parts("tool", output, f"{where}.output"),
                }
            )
        else:
            raise InvalidRequest(
                f"Input items of type '{kind}' cannot be sent to a chat completions model.",
                param=f"{where}.type",
            )
    if not messages:
        raise InvalidRequest(
            "'input' holds no item a chat completions model can take.", param="input"
        )
    return messages


def _call(item: Json, where: str, names: ToolNames) -> Json:
    """A chat tool call for a function_call item (by its chat name when of a namespace)."""
    only(item, _CALL, where)
    namespace = item.get("namespace")
    name = string_field(item, "name", where)
    return {
        "id": string_field(item, "call_id", where),
        "type": "function",
        "function": {
            "name": names.chat(namespace if isinstance(namespace, str) else None, name),
            "arguments": string_field(item, "arguments", where),
        },
    }


def _message(item: Json, where: str) -> Json:
    """A chat message for a message input item."""
    only(item, frozenset({"type", "id", "status", "role", "content"}), where)
    role = item.get("role")
    if role not in _ROLES:
        raise InvalidRequest(
            f"'{where}.role' must be one of {', '.join(sorted(_ROLES))}.", param=f"{where}.role"
        )
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    return {"role": role, "content": _parts(role, content, f"{where}.content")}


def _parts(role: str, parts: Any, where: str) -> list[Json]:
    """Chat content parts for a list of Responses content parts."""
    if not isinstance(parts, list):
        raise InvalidRequest(f"'{where}' must be a string or an array.", param=where)
    return [
        _part(role, obj(part, f"{where}[{j}]"), f"{where}[{j}]") for j, part in enumerate(parts)
    ]


def _part(role: str, part: Json, where: str) -> Json:
    """One chat content part; which part types a role may carry follows both APIs."""
    kind = part.get("type")
    if role == "assistant" and kind == "output_text":
        only(part, frozenset({"type", "text", "annotations", "logprobs"}), where)
        return {"type": "text", "text": string_field(part, "text", where)}
    if role == "assistant" and kind == "refusal":
        only(part, frozenset({"type", "refusal"}), where)
        return {"type": "refusal", "refusal": string_field(part, "refusal", where)}
    if role != "assistant" and kind == "input_text":
        only(part, frozenset({"type", "text"}), where)
        return {"type": "text", "text": string_field(part, "text", where)}
    if role == "user" and kind == "input_image":
        only(part, frozenset({"type", "image_url", "detail"}), where)
        image = {"url": string_field(part, "image_url", where)}
        detail = part.get("detail")
        if detail is not None and detail not in _IMAGE_DETAIL:
            raise InvalidRequest(
                f"'{where}.detail' must be one of auto, low, high.", param=f"{where}.detail"
            )
        return {"type": "image_url", "image_url": image | ({"detail": detail} if detail else {})}
    if role == "user" and kind == "input_file":
        only(part, frozenset({"type", "file_data", "filename"}), where)
        file = {"file_data": string_field(part, "file_data", where)}
        if part.get("filename") is not None:
            file["filename"] = string_field(part, "filename", where)
        return {"type": "file", "file": file}
    raise InvalidRequest(
        f"A '{role}' message cannot carry a '{kind}' content part.", param=f"{where}.type"
    )

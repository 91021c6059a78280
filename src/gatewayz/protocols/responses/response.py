"""A chat.completion as a Response object, and the output items a stream of one builds too."""

from typing import Any

from gatewayz.protocols.checks import Json
from gatewayz.protocols.responses.tools import ToolNames

# Optional request fields a Response repeats when they were given.
_ECHOED = (
    "max_tool_calls",
    "reasoning",
    "service_tier",
    "user",
    "safety_identifier",
    "prompt_cache_key",
)


def chat_to_response(chat: Json, request: Json, response_id: str, created_at: int) -> Json:
    """The Response object for a chat.completion answering `request`: its reasoning (as a
    reasoning item's summary), its text or refusal, its tool calls (a namespace's by their
    namespace and name)."""
    choices = chat.get("choices") or [{}]
    message = choices[0].get("message") or {}
    status, reason = finish_status(choices[0].get("finish_reason"))
    item_status = "incomplete" if reason else "completed"
    calls = message.get("tool_calls") or []
    names = ToolNames(request.get("tools"))
    output = []
    thought = reasoning_text(message)
    if thought:
        output.append(reasoning_item(reasoning_item_id(response_id, 0), thought))
    text, refusal = message.get("content"), message.get("refusal")
    if text or refusal or not calls:
        parts = [content_part("output_text", text)] if text or not refusal else []
        parts += [content_part("refusal", refusal)] if refusal else []
        output.append(message_item(message_item_id(response_id), parts, item_status))
    for n, call in enumerate(calls):
        function = call.get("function") or {}
        output.append(
            call_item(
                call_item_ids(response_id, n, call.get("id")),
                names.responses(function.get("name") or ""),
                function.get("arguments") or "",
                item_status,
            )
        )
    usage = response_usage(chat.get("usage"))
    return response_object(request, response_id, created_at, status, output, usage, reason)


def finish_status(finish_reason: str | None) -> tuple[str, str | None]:
    """The Response status and incomplete reason for a chat finish_reason."""
    if finish_reason == "length":
        return "incomplete", "max_output_tokens"
    if finish_reason == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


def reasoning_text(part: Any) -> str | None:
    """The reasoning of a chat message or delta: `reasoning_content`, or the `reasoning` some
    OpenAI-compatible upstreams send instead (Anthropic thinking and Gemini thoughts arrive
    translated into the former)."""
    if not isinstance(part, dict):
        return None
    for key in ("reasoning_content", "reasoning"):
        if isinstance(part.get(key), str) and part[key]:
            return str(part[key])
    return None


def reasoning_item_id(response_id: str, n: int) -> str:
    """The id of the n-th reasoning item of a response."""
    suffix = response_id.removeprefix("resp_")
    return f"rs_{suffix}" if n == 0 else f"rs_{suffix}_{n}"


def reasoning_item(item_id: str, text: str | None) -> Json:
    """A reasoning output item whose summary is the upstream's reasoning (none yet: [])."""
    summary = [{"type": "summary_text", "text": text}] if text is not None else []
    return {"id": item_id, "type": "reasoning", "summary": summary}


def message_item_id(response_id: str) -> str:
    """The id of the one message item of a response."""
    return "msg_" + response_id.removeprefix("resp_")


def call_item_ids(response_id: str, n: int, call_id: str | None) -> tuple[str, str]:
    """The item id and call id of the n-th function call (the upstream's id when it sent one)."""
    suffix = response_id.removeprefix("resp_")
    return f"fc_{suffix}_{n}", call_id or f"call_{suffix}_{n}"


def content_part(kind: str, text: str | None) -> Json:
    """An output_text or refusal content part."""
    if kind == "refusal":
        return {"type": "refusal", "refusal": text or ""}
    return {"type": "output_text", "text": text or "", "annotations": [], "logprobs": []}


def message_item(item_id: str, parts: list[Json], status: str) -> Json:
    """An assistant message output item."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": parts,
    }


def call_item(
    ids: tuple[str, str], name: tuple[str | None, str], arguments: str, status: str
) -> Json:
    """A function_call output item for a function `name`: (its namespace or None, its name)."""
    item = {
        "id": ids[0],
        "type": "function_call",
        "status": status,
        "call_id": ids[1],
        "name": name[1],
        "arguments": arguments,
    }
    return item | ({"namespace": name[0]} if name[0] is not None else {})


def response_usage(usage: Any) -> Json | None:
    """Responses usage for a chat usage object, or None when there is none."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": prompt_details.get("cached_tokens") or 0,
            "cache_write_tokens": prompt_details.get("cache_write_tokens") or 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": completion_details.get("reasoning_tokens") or 0
        },
        "total_tokens": usage.get("total_tokens") or prompt + completion,
    }


def response_object(
    request: Json,
    response_id: str,
    created_at: int,
    status: str,
    output: list[Json],
    usage: Json | None,
    reason: str | None = None,
    error: Json | None = None,
) -> Json:
    """A Response object echoing the request's settings, with the spec's defaults."""
    text = dict(request.get("text") or {})
    text["format"] = text.get("format") or {"type": "text"}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": request.get("model"),
        "output": output,
        "parallel_tool_calls": _given(request, "parallel_tool_calls", True),
        "previous_response_id": None,
        "background": False,
        "temperature": _given(request, "temperature", 1.0),
        "text": text,
        "tool_choice": _given(request, "tool_choice", "auto"),
        "tools": _tools(request.get("tools")),
        "top_p": _given(request, "top_p", 1.0),
        "truncation": "disabled",
        "metadata": request.get("metadata") or {},
        **{key: request[key] for key in _ECHOED if request.get(key) is not None},
        **({"usage": usage} if usage else {}),
    }


def _tools(tools: Any) -> list[Json]:
    """The request's tools that reached the model: functions, and namespaces as sent."""
    out = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "function":
            out.append(
                {
                    "type": "function",
                    "name": tool.get("name"),
                    "description": tool.get("description"),
                    "parameters": tool.get("parameters"),
                    "strict": tool.get("strict"),
                }
            )
        elif tool.get("type") == "namespace":
            out.append(tool)
    return out


def _given(request: Json, key: str, default: Any) -> Any:
    """request[key], or the spec's default when it is absent or null."""
    value = request.get(key)
    return default if value is None else value

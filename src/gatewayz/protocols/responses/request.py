"""A CreateResponse as a chat completion request, and the checks every route relies on."""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, array, obj
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.json_body import MAX_OUTPUT_TOKENS, bounded_int, decode_object
from gatewayz.protocols.responses.common import only, string_field
from gatewayz.protocols.responses.input import chat_messages

# CreateResponse fields sent on to the chat request unchanged (tool settings only with tools).
_PASSTHROUGH = (
    "temperature",
    "top_p",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "service_tier",
)
_TYPES: dict[str, type | tuple[type, ...]] = {
    "temperature": (int, float),
    "top_p": (int, float),
    "user": str,
    "safety_identifier": str,
    "prompt_cache_key": str,
    "prompt_cache_retention": str,
    "prompt_cache_options": dict,
    "service_tier": str,
    "parallel_tool_calls": bool,
    "instructions": str,
    "metadata": dict,
    "max_tool_calls": int,
    "text": dict,
    "reasoning": dict,
    "tools": list,
}
_TRANSLATED = frozenset({"model", "input", "tool_choice", "stream", "max_output_tokens", *_TYPES})
# Fields accepted only with these values, and why no other value can be honoured.
_REFUSED: dict[str, tuple[tuple[Any, ...], str]] = {
    "previous_response_id": ((None,), "the gateway stores no responses; send the whole input"),
    "conversation": ((None,), "the gateway stores no conversations; send the whole input"),
    "store": ((None, False), "the gateway stores no responses; set it to false"),
    "background": ((None, False), "background responses need stored responses"),
    "prompt": ((None,), "stored prompt templates live at OpenAI; send instructions and input"),
    "include": ((None, []), "a chat completions model returns none of these outputs"),
    "top_logprobs": ((None, 0), "log probabilities are not returned"),
    "truncation": ((None, "disabled"), "a chat completions model cannot truncate its input"),
    "context_management": ((None,), "a chat completions model cannot compact its context"),
    "moderation": ((None,), "moderation results are not returned"),
    "stream_options": ((None, {}, {"include_obfuscation": False}), "streams are not obfuscated"),
}


def parse_request(raw: bytes) -> Json:
    """Decode a CreateResponse body and check what every route relies on, native or not."""
    body = decode_object(raw)
    _check_basics(body)
    return body


def responses_to_chat_request(body: Json, dropped: Dropped | None = None) -> Json:
    """The chat completion request for a CreateResponse body; InvalidRequest for the rest.
    `dropped` records the hints a translation leaves out (see protocols.fields)."""
    _check_basics(body)
    _check_fields(body)
    messages = (
        [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    )
    chat: Json = {"model": body["model"], "messages": messages + chat_messages(body.get("input"))}
    tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(body.get("tools") or [])]
    choice = _tool_choice(body.get("tool_choice"), bool(tools))
    if tools:
        chat["tools"] = tools
        if choice is not None:
            chat["tool_choice"] = choice
        if body.get("parallel_tool_calls") is not None:
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    chat.update({key: body[key] for key in _PASSTHROUGH if body.get(key) is not None})
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    chat.update(_text(body.get("text") or {}))
    chat.update(_reasoning(body.get("reasoning") or {}))
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _check_basics(body: Any) -> None:
    """An object with a model, and a stream flag and token limit of the right types."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    if body.get("stream") is not None and not _is(body["stream"], bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    bounded_int(body, "max_output_tokens", MAX_OUTPUT_TOKENS)


def _check_fields(body: Json) -> None:
    """Refuse unknown fields, values only stored state could honour, and ill-typed values."""
    for key, value in body.items():
        if key in _REFUSED and value not in _REFUSED[key][0]:
            raise InvalidRequest(f"'{key}' is not supported: {_REFUSED[key][1]}.", param=key)
        if key not in _TRANSLATED and key not in _REFUSED and value is not None:
            raise InvalidRequest(f"Unknown parameter: '{key}'.", param=key)
        kind = _TYPES.get(key)
        if kind is not None and value is not None and not _is(value, kind):
            raise InvalidRequest(f"'{key}' has the wrong type.", param=key)


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that a bool is not a number."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _tool(raw: Any, where: str) -> Json:
    """A chat function tool for a Responses function tool; built-in tools are refused."""
    tool = obj(raw, where)
    kind = tool.get("type")
    if kind != "function":
        raise InvalidRequest(
            f"Tools of type '{kind}' run inside OpenAI; a chat completions model can only call "
            "function tools.",
            param=f"{where}.type",
        )
    only(tool, frozenset({"type", "name", "description", "parameters", "strict"}), where)
    function = {"name": string_field(tool, "name", where)}
    function.update(
        {
            key: tool[key]
            for key in ("description", "parameters", "strict")
            if tool.get(key) is not None
        }
    )
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, has_tools: bool) -> str | Json | None:
    """The chat tool_choice; a choice that needs tools is refused when there are none."""
    if choice is None or choice in ("none", "auto"):
        return choice
    if not has_tools:
        raise InvalidRequest("'tool_choice' requires function tools.", param="tool_choice")
    if choice == "required":
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        only(choice, frozenset({"type", "name"}), "tool_choice")
        return {
            "type": "function",
            "function": {"name": string_field(choice, "name", "tool_choice")},
        }
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        only(choice, frozenset({"type", "mode", "tools"}), "tool_choice")
        if choice.get("mode") not in ("auto", "required"):
            raise InvalidRequest(
                "'tool_choice.mode' must be auto or required.", param="tool_choice.mode"
            )
        allowed = array(choice.get("tools"), "tool_choice.tools")
        tools = [
            _tool(tool, f"tool_choice.tools[{i}]")["function"] for i, tool in enumerate(allowed)
        ]
        return {
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": choice.get("mode"),
                "tools": [{"type": "function", "function": {"name": t["name"]}} for t in tools],
            },
        }
    raise InvalidRequest(
        "'tool_choice' must be none, auto, required, a function or allowed function tools.",
        param="tool_choice",
    )


def _text(text: Json) -> Json:
    """The chat response_format and verbosity for `text`."""
    only(text, frozenset({"format", "verbosity"}), "text")
    out: Json = {"verbosity": text["verbosity"]} if text.get("verbosity") is not None else {}
    fmt = obj(text.get("format") or {"type": "text"}, "text.format")
    kind = fmt.get("type")
    if kind == "json_object":
        only(fmt, frozenset({"type"}), "text.format")
        out["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        only(fmt, frozenset({"type", "name", "schema", "description", "strict"}), "text.format")
        schema = {"name": string_field(fmt, "name", "text.format")}
        schema["schema"] = obj(fmt.get("schema"), "text.format.schema")
        schema.update({k: fmt[k] for k in ("description", "strict") if fmt.get(k) is not None})
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind != "text":
        raise InvalidRequest(
            "'text.format.type' must be text, json_object or json_schema.",
            param="text.format.type",
        )
    return out


def _reasoning(reasoning: Json) -> Json:
    """The chat reasoning_effort; summaries are refused (chat returns none)."""
    only(reasoning, frozenset({"effort"}), "reasoning")
    effort = reasoning.get("effort")
    return {"reasoning_effort": effort} if effort is not None else {}

"""A CreateResponse as a chat completion request, and the checks every route relies on."""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, obj
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.json_body import MAX_OUTPUT_TOKENS, bounded_int, decode_object
from gatewayz.protocols.responses.common import INCLUDE, only, string_field
from gatewayz.protocols.responses.input import chat_messages
from gatewayz.protocols.responses.tools import ToolNames, chat_tool_choice, chat_tools

# CreateResponse fields sent on to the chat request unchanged, for every upstream, and only
# for OpenAI-format ones (hints the others have no field for: dropped and named there).
_SHARED = ("temperature", "top_p", "user", "safety_identifier")
_OPENAI_ONLY = (
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "service_tier",
)
# Hints and metadata a chat request has no field for: left out and named.
_DROPPED = {
    "client_metadata": "metadata about the client, which a chat completions model takes none of",
    "metadata": "response metadata is not sent on; it is echoed in the Response",
    "max_tool_calls": "it limits calls of hosted tools, which a chat completions model lacks",
    "context_management": "a chat completions model cannot compact its context",
}
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
    "client_metadata": dict,
    "max_tool_calls": int,
    "text": dict,
    "reasoning": dict,
    "tools": list,
    "include": list,
}
_TRANSLATED = frozenset(
    {"model", "input", "tool_choice", "stream", "max_output_tokens", *_TYPES, *_DROPPED}
)
# Fields accepted only with these values, and why no other value can be honoured.
_REFUSED: dict[str, tuple[tuple[Any, ...], str]] = {
    "previous_response_id": ((None,), "the gateway stores no responses; send the whole input"),
    "conversation": ((None,), "the gateway stores no conversations; send the whole input"),
    "store": ((None, False), "the gateway stores no responses; set it to false"),
    "background": ((None, False), "background responses need stored responses"),
    "prompt": ((None,), "stored prompt templates live at OpenAI; send instructions and input"),
    "top_logprobs": ((None, 0), "log probabilities are not returned"),
    "truncation": ((None, "disabled"), "a chat completions model cannot truncate its input"),
    "moderation": ((None,), "moderation results are not returned"),
    "stream_options": ((None, {}, {"include_obfuscation": False}), "streams are not obfuscated"),
}
_NO_HOSTED = "it returns outputs of hosted tools or inputs, which a chat model does not send"
_REASONING_INCLUDED = (
    "reasoning is returned as summary text; a chat completions model returns no encrypted "
    "reasoning to replay"
)


def parse_request(raw: bytes) -> Json:
    """Decode a CreateResponse body and check what every route relies on, native or not."""
    body = decode_object(raw)
    _check_basics(body)
    return body


def responses_to_chat_request(
    body: Json, dropped: Dropped | None = None, openai_format: bool = True
) -> Json:
    """The chat completion request for a CreateResponse body; InvalidRequest for the rest.
    `dropped` records the hints a translation leaves out (see protocols.fields); the hints
    only OpenAI's chat API takes (prompt caching, service tier, verbosity) reach the upstream
    only when it speaks OpenAI's format (`openai_format`)."""
    dropped = dropped if dropped is not None else Dropped()
    _check_basics(body)
    _check_fields(body, dropped)
    names = ToolNames(body.get("tools"))
    messages = (
        [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    )
    messages += chat_messages(body.get("input"), names, dropped)
    chat: Json = {"model": body["model"], "messages": messages}
    tools = chat_tools(body, names, dropped)
    choice = chat_tool_choice(body.get("tool_choice"), tools, names, dropped)
    if tools:
        chat["tools"] = tools
        if choice is not None:
            chat["tool_choice"] = choice
        if body.get("parallel_tool_calls") is not None:
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    chat.update({key: body[key] for key in _SHARED if body.get(key) is not None})
    for key in _OPENAI_ONLY:
        if body.get(key) is not None:
            if openai_format:
                chat[key] = body[key]
            else:
                dropped.drop(key, "the upstream has no equivalent")
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    chat.update(_text(body.get("text") or {}, openai_format, dropped))
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


def _check_fields(body: Json, dropped: Dropped) -> None:
    """Refuse unknown fields, values only stored state could honour, and ill-typed values;
    name the hints left out."""
    for key, value in body.items():
        if key in _REFUSED and value not in _REFUSED[key][0]:
            raise InvalidRequest(f"'{key}' is not supported: {_REFUSED[key][1]}.", param=key)
        if key not in _TRANSLATED and key not in _REFUSED and value is not None:
            raise InvalidRequest(f"Unknown parameter: '{key}'.", param=key)
        kind = _TYPES.get(key)
        if kind is not None and value is not None and not _is(value, kind):
            raise InvalidRequest(f"'{key}' has the wrong type.", param=key)
        if key in _DROPPED and value:
            dropped.drop(key, _DROPPED[key])
    for i, value in enumerate(body.get("include") or ()):
        if value == "message.output_text.logprobs":
            raise InvalidRequest(
                "'include' asks for log probabilities, which are not returned.",
                param=f"include[{i}]",
            )
        if value not in INCLUDE:
            raise InvalidRequest(
                f"'include[{i}]' is not a known include value.", param=f"include[{i}]"
            )
        why = _REASONING_INCLUDED if value == "reasoning.encrypted_content" else _NO_HOSTED
        dropped.drop(f"include.{i}", why)


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that a bool is not a number."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _text(text: Json, openai_format: bool, dropped: Dropped) -> Json:
    """The chat response_format and verbosity for `text`."""
    only(text, frozenset({"format", "verbosity"}), "text")
    out: Json = {}
    if text.get("verbosity") is not None:
        if openai_format:
            out["verbosity"] = text["verbosity"]
        else:
            dropped.drop("text.verbosity", "the upstream has no equivalent")
    fmt = obj(text.get("format") or {"type": "text"}, "text.format")
    kind = fmt.get("type")
    if kind == "json_object":
        only(fmt, frozenset({"type"}), "text.format")
        out["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        only(fmt, frozenset({"type", "name", "schema", "description", "strict"}), "text.format")
        schema: dict[str, Any] = {"name": string_field(fmt, "name", "text.format")}
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
    """The chat reasoning_effort. A summary asked for is what the gateway returns anyway: the
    reasoning an upstream sends becomes the reasoning items' summary text."""
    only(reasoning, frozenset({"effort", "summary", "generate_summary"}), "reasoning")
    effort = reasoning.get("effort")
    return {"reasoning_effort": effort} if effort is not None else {}

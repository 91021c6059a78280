"""Anthropic Messages requests in: the checks every route relies on, and the OpenAI chat
request for one (served by an OpenAI-compatible upstream)."""

import json
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.anthropic.common import at, only, text_block, typed
from gatewayz.protocols.checks import Json, array, obj, refuse, string
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.json_body import MAX_OUTPUT_TOKENS, bounded_int, decode_object

_MESSAGES_FIELDS = frozenset(
    [
        "model",
        "messages",
        "max_tokens",
        "system",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "cache_control",
    ]
)


def parse_messages_request(raw: bytes) -> Json:
    """Decode a Messages request and check what every route relies on, native or not."""
    body = decode_object(raw)
    bounded_int(body, "max_tokens", MAX_OUTPUT_TOKENS, required=True)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array.", param="messages")
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequest("stream: must be a boolean.", param="stream")
    return body


def messages_to_chat_request(body: Json, dropped: Dropped | None = None) -> Json:
    """An Anthropic Messages request as an OpenAI chat completion request;
    `dropped` records the hints a translation leaves out (see protocols.fields)."""
    dropped = dropped or Dropped()
    only(body, _MESSAGES_FIELDS, "", "OpenAI chat")
    if body.get("cache_control") is not None:  # automatic prompt caching: a hint
        dropped.drop("cache_control", "OpenAI chat has no cache breakpoints")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise refuse("max_tokens", "is required and must be a positive integer.")
    messages = array(body.get("messages"), "messages")
    if not messages:
        raise refuse("messages", "must not be empty.")
    chat: list[Json] = []
    if body.get("system") not in (None, "", []):
        chat.append({"role": "system", "content": _chat_text(body["system"], "system")})
    for i, message in enumerate(messages):
        chat.extend(_chat_messages(message, f"messages.{i}"))
    out: Json = {"model": string(body.get("model"), "model"), "messages": chat}
    out["max_tokens"] = max_tokens
    for key in ("temperature", "top_p", "top_k", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        stops = enumerate(array(body["stop_sequences"], "stop_sequences"))
        out["stop"] = [string(s, f"stop_sequences.{i}") for i, s in stops]
    if body.get("metadata") is not None:
        metadata = obj(body["metadata"], "metadata")
        only(metadata, frozenset({"user_id"}), "metadata", "OpenAI chat")
        if metadata.get("user_id") is not None:
            out["user"] = string(metadata["user_id"], "metadata.user_id")
    if body.get("tools") is not None:
        tools = enumerate(array(body["tools"], "tools"))
        out["tools"] = [_chat_tool(t, f"tools.{i}") for i, t in tools]
    if body.get("tool_choice") is not None:
        out["tool_choice"], serial = _chat_tool_choice(obj(body["tool_choice"], "tool_choice"))
        if serial:
            out["parallel_tool_calls"] = False
    thinking = body.get("thinking")
    if thinking is not None and obj(thinking, "thinking").get("type") != "disabled":
        raise refuse("thinking", "cannot be expressed in the OpenAI chat API; omit it.")
    if body.get("output_config") is not None:
        response_format = _chat_response_format(obj(body["output_config"], "output_config"))
        if response_format is not None:
            out["response_format"] = response_format
    return out


def _chat_text(content: Any, path: str) -> str | list[Json]:
    """Anthropic text (a string or text blocks) as OpenAI message content."""
    if isinstance(content, str):
        return content
    parts = []
    for j, raw in enumerate(array(content, path)):
        block, kind = typed(raw, at(path, j))
        if kind != "text":
            raise refuse(at(at(path, j), "type"), f"'{kind}' has no OpenAI chat equivalent.")
        parts.append({"type": "text", "text": text_block(block, at(path, j), "OpenAI chat")})
    return _collapse(parts)


def _collapse(parts: list[Json]) -> str | list[Json]:
    """One text part as a plain string, anything else as the list of parts."""
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _chat_messages(message: Any, path: str) -> list[Json]:
    """One Anthropic message as OpenAI messages (a user turn's tool results come first)."""
    message = obj(message, path)
    only(message, frozenset({"role", "content"}), path, "OpenAI chat")
    role, content = message.get("role"), message.get("content")
    content_path = at(path, "content")
    if role == "system":
        return [{"role": "system", "content": _chat_text(content, content_path)}]
    if role == "assistant":
        return [_chat_assistant(content, content_path)]
    if role != "user":
        raise refuse(at(path, "role"), "must be 'user', 'assistant' or 'system'.")
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results: list[Json] = []
    parts: list[Json] = []
    for j, raw in enumerate(array(content, content_path)):
        block_path = at(content_path, j)
        block, kind = typed(raw, block_path)
        if kind == "tool_result":
            results.append(_chat_tool_result(block, block_path))
        elif kind == "text":
            parts.append({"type": "text", "text": text_block(block, block_path, "OpenAI chat")})
        elif kind == "image":
            parts.append(_chat_image(block, block_path))
        else:
            raise refuse(at(block_path, "type"), f"'{kind}' has no OpenAI chat equivalent.")
    if not results and not parts:
        raise refuse(content_path, "must not be empty.")
    return results + ([{"role": "user", "content": _collapse(parts)}] if parts else [])


def _chat_assistant(content: Any, path: str) -> Json:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[Json] = []
    calls: list[Json] = []
    for j, raw in enumerate(array(content, path)):
        block, kind = typed(raw, at(path, j))
        if kind == "text":
            texts.append({"type": "text", "text": text_block(block, at(path, j), "OpenAI chat")})
        elif kind == "tool_use":
            calls.append(_chat_tool_call(block, at(path, j)))
        else:
            raise refuse(at(at(path, j), "type"), f"'{kind}' has no OpenAI chat equivalent.")
    if not texts and not calls:
        raise refuse(path, "must not be empty.")
    message: Json = {"role": "assistant", "content": _collapse(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _chat_tool_call(block: Json, path: str) -> Json:
    only(block, frozenset({"type", "id", "name", "input"}), path, "OpenAI chat")
    arguments = json.dumps(obj(block.get("input"), at(path, "input")), ensure_ascii=False)
    return {
        "id": string(block.get("id"), at(path, "id")),
        "type": "function",
        "function": {"name": string(block.get("name"), at(path, "name")), "arguments": arguments},
    }


def _chat_tool_result(block: Json, path: str) -> Json:
    only(block, frozenset({"type", "tool_use_id", "content", "is_error"}), path, "OpenAI chat")
    content = _chat_text(block.get("content", ""), at(path, "content"))
    if block.get("is_error"):
        if isinstance(content, str):
            content = f"Error: {content}"
        else:
            content = [{"type": "text", "text": "Error: "}, *content]
    tool_call_id = string(block.get("tool_use_id"), at(path, "tool_use_id"))
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def _chat_image(block: Json, path: str) -> Json:
    only(block, frozenset({"type", "source"}), path, "OpenAI chat")
    source, kind = typed(block.get("source"), at(path, "source"))
    if kind == "base64":
        media_type = string(source.get("media_type"), at(path, "source.media_type"))
        url = f"data:{media_type};base64,{string(source.get('data'), at(path, 'source.data'))}"
    elif kind == "url":
        url = string(source.get("url"), at(path, "source.url"))
    else:
        raise refuse(at(path, "source.type"), f"'{kind}' has no OpenAI chat equivalent.")
    return {"type": "image_url", "image_url": {"url": url}}


def _chat_tool(tool: Any, path: str) -> Json:
    tool = obj(tool, path)
    if tool.get("type") not in (None, "custom"):
        raise refuse(at(path, "type"), "is a server tool the OpenAI chat API cannot run.")
    allowed = {"type", "name", "description", "input_schema", "strict", "eager_input_streaming"}
    only(tool, frozenset(allowed), path, "OpenAI chat")
    function: Json = {
        "name": string(tool.get("name"), at(path, "name")),
        "parameters": obj(tool.get("input_schema"), at(path, "input_schema")),
    }
    if tool.get("description") is not None:
        function["description"] = string(tool["description"], at(path, "description"))
    if tool.get("strict") is not None:
        function["strict"] = bool(tool["strict"])
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: Json) -> tuple[str | Json, bool]:
    """The OpenAI tool_choice, and whether parallel tool calls are disabled."""
    allowed = frozenset({"type", "name", "disable_parallel_tool_use"})
    only(choice, allowed, "tool_choice", "OpenAI chat")
    kind = choice.get("type")
    serial = bool(choice.get("disable_parallel_tool_use"))
    if kind == "tool":
        name = string(choice.get("name"), "tool_choice.name")
        return {"type": "function", "function": {"name": name}}, serial
    modes = {"auto": "auto", "any": "required", "none": "none"}
    if kind not in modes:
        raise refuse("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'.")
    return modes[kind], serial


def _chat_response_format(config: Json) -> Json | None:
    only(config, frozenset({"format"}), "output_config", "OpenAI chat")
    if config.get("format") is None:
        return None
    fmt = obj(config["format"], "output_config.format")
    if fmt.get("type") != "json_schema":
        raise refuse("output_config.format.type", "must be 'json_schema'.")
    schema = obj(fmt.get("schema"), "output_config.format.schema")
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }

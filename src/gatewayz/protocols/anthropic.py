"""Anthropic Messages <-> OpenAI Chat Completions: requests, responses, streams and errors.

Pure translation on wire dicts. Whatever the target format cannot express is refused with
InvalidRequest naming the field. The only input dropped are hints that change cost, caching
or storage but not the answer: `cache_control`, `eager_input_streaming`, an image's `detail`,
OpenAI's `store`, `metadata`, `prompt_cache_key` and `stream_options` (read by the caller).
Malformed upstream data raises ValueError and a mid-stream upstream error raises
UpstreamStreamError, as the relay expects of a stream codec.
"""

import json
import time
import uuid
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.json_body import decode_object, positive_int
from gatewayz.protocols.openai_chat import UpstreamStreamError

Json = dict[str, Any]
Event = tuple[str, Json]

_HINTS = frozenset({"cache_control"})
_ABSENT: tuple[Any, ...] = (None, [], {})
_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

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
_CHAT_FIELDS = frozenset(
    [
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "stream",
        "user",
        "safety_identifier",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "stream_options",
        "store",
        "metadata",
        "prompt_cache_key",
    ]
)
# OpenAI options Anthropic lacks: accepted only at the value that changes nothing.
_CHAT_NEUTRAL: dict[str, Any] = {
    "n": 1,
    "logprobs": False,
    "top_logprobs": 0,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logit_bias": {},
    "seed": None,
}

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


# --- shared checks -----------------------------------------------------------------------


def _at(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _refuse(path: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"'{path}' {why}", param=path)


def _obj(value: Any, path: str) -> Json:
    if not isinstance(value, dict):
        raise _refuse(path, "must be an object.")
    return value


def _items(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _refuse(path, "must be an array.")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _refuse(path, "must be a string.")
    return value


def _only(obj: Json, allowed: frozenset[str], path: str, target: str) -> None:
    """Refuse any field outside `allowed` that carries a value."""
    for key, value in obj.items():
        if key not in allowed and key not in _HINTS and value not in _ABSENT:
            raise _refuse(_at(path, key), f"cannot be expressed in the {target} API.")


def _typed(block: Any, path: str) -> tuple[Json, str]:
    block = _obj(block, path)
    return block, _str(block.get("type"), _at(path, "type"))


def _text_block(block: Json, path: str, target: str) -> str:
    _only(block, frozenset({"type", "text"}), path, target)
    return _str(block.get("text"), _at(path, "text"))


def _upstream(value: Any, what: str) -> Json:
    if not isinstance(value, dict):
        raise ValueError(f"upstream {what} is not a JSON object")
    return value


def _stop_reason(finish: Any, called_tools: bool) -> str:
    reason = _STOP_REASONS.get(finish, "end_turn")
    return "tool_use" if called_tools and reason == "end_turn" else reason


# --- Anthropic request -> OpenAI chat request --------------------------------------------


def messages_to_chat_request(body: Json) -> Json:
    """An Anthropic Messages request as an OpenAI chat completion request."""
    _only(body, _MESSAGES_FIELDS, "", "OpenAI chat")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _refuse("max_tokens", "is required and must be a positive integer.")
    messages = _items(body.get("messages"), "messages")
    if not messages:
        raise _refuse("messages", "must not be empty.")
    chat: list[Json] = []
    if body.get("system") not in (None, "", []):
        chat.append({"role": "system", "content": _chat_text(body["system"], "system")})
    for i, message in enumerate(messages):
        chat.extend(_chat_messages(message, f"messages.{i}"))
    out: Json = {"model": _str(body.get("model"), "model"), "messages": chat}
    out["max_tokens"] = max_tokens
    for key in ("temperature", "top_p", "top_k", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        stops = enumerate(_items(body["stop_sequences"], "stop_sequences"))
        out["stop"] = [_str(s, f"stop_sequences.{i}") for i, s in stops]
    if body.get("metadata") is not None:
        metadata = _obj(body["metadata"], "metadata")
        _only(metadata, frozenset({"user_id"}), "metadata", "OpenAI chat")
        if metadata.get("user_id") is not None:
            out["user"] = _str(metadata["user_id"], "metadata.user_id")
    if body.get("tools") is not None:
        tools = enumerate(_items(body["tools"], "tools"))
        out["tools"] = [_chat_tool(t, f"tools.{i}") for i, t in tools]
    if body.get("tool_choice") is not None:
        out["tool_choice"], serial = _chat_tool_choice(_obj(body["tool_choice"], "tool_choice"))
        if serial:
            out["parallel_tool_calls"] = False
    thinking = body.get("thinking")
    if thinking is not None and _obj(thinking, "thinking").get("type") != "disabled":
        raise _refuse("thinking", "cannot be expressed in the OpenAI chat API; omit it.")
    if body.get("output_config") is not None:
        response_format = _chat_response_format(_obj(body["output_config"], "output_config"))
        if response_format is not None:
            out["response_format"] = response_format
    return out


def _chat_text(content: Any, path: str) -> str | list[Json]:
    """Anthropic text (a string or text blocks) as OpenAI message content."""
    if isinstance(content, str):
        return content
    parts = []
    for j, raw in enumerate(_items(content, path)):
        block, kind = _typed(raw, _at(path, j))
        if kind != "text":
            raise _refuse(_at(_at(path, j), "type"), f"'{kind}' has no OpenAI chat equivalent.")
        parts.append({"type": "text", "text": _text_block(block, _at(path, j), "OpenAI chat")})
    return _collapse(parts)


def _collapse(parts: list[Json]) -> str | list[Json]:
    """One text part as a plain string, anything else as the list of parts."""
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _chat_messages(message: Any, path: str) -> list[Json]:
    """One Anthropic message as OpenAI messages (a user turn's tool results come first)."""
    message = _obj(message, path)
    _only(message, frozenset({"role", "content"}), path, "OpenAI chat")
    role, content = message.get("role"), message.get("content")
    content_path = _at(path, "content")
    if role == "system":
        return [{"role": "system", "content": _chat_text(content, content_path)}]
    if role == "assistant":
        return [_chat_assistant(content, content_path)]
    if role != "user":
        raise _refuse(_at(path, "role"), "must be 'user', 'assistant' or 'system'.")
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results: list[Json] = []
    parts: list[Json] = []
    for j, raw in enumerate(_items(content, content_path)):
        block_path = _at(content_path, j)
        block, kind = _typed(raw, block_path)
        if kind == "tool_result":
            results.append(_chat_tool_result(block, block_path))
        elif kind == "text":
            parts.append({"type": "text", "text": _text_block(block, block_path, "OpenAI chat")})
        elif kind == "image":
            parts.append(_chat_image(block, block_path))
        else:
            raise _refuse(_at(block_path, "type"), f"'{kind}' has no OpenAI chat equivalent.")
    if not results and not parts:
        raise _refuse(content_path, "must not be empty.")
    return results + ([{"role": "user", "content": _collapse(parts)}] if parts else [])


def _chat_assistant(content: Any, path: str) -> Json:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[Json] = []
    calls: list[Json] = []
    for j, raw in enumerate(_items(content, path)):
        block, kind = _typed(raw, _at(path, j))
        if kind == "text":
            texts.append({"type": "text", "text": _text_block(block, _at(path, j), "OpenAI chat")})
        elif kind == "tool_use":
            calls.append(_chat_tool_call(block, _at(path, j)))
        else:
            raise _refuse(_at(_at(path, j), "type"), f"'{kind}' has no OpenAI chat equivalent.")
    if not texts and not calls:
        raise _refuse(path, "must not be empty.")
    message: Json = {"role": "assistant", "content": _collapse(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _chat_tool_call(block: Json, path: str) -> Json:
    _only(block, frozenset({"type", "id", "name", "input"}), path, "OpenAI chat")
    arguments = json.dumps(_obj(block.get("input"), _at(path, "input")), ensure_ascii=False)
    return {
        "id": _str(block.get("id"), _at(path, "id")),
        "type": "function",
        "function": {"name": _str(block.get("name"), _at(path, "name")), "arguments": arguments},
    }


def _chat_tool_result(block: Json, path: str) -> Json:
    _only(block, frozenset({"type", "tool_use_id", "content", "is_error"}), path, "OpenAI chat")
    content = _chat_text(block.get("content", ""), _at(path, "content"))
    if block.get("is_error"):
        if isinstance(content, str):
            content = f"Error: {content}"
        else:
            content = [{"type": "text", "text": "Error: "}, *content]
    tool_call_id = _str(block.get("tool_use_id"), _at(path, "tool_use_id"))
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def _chat_image(block: Json, path: str) -> Json:
    _only(block, frozenset({"type", "source"}), path, "OpenAI chat")
    source, kind = _typed(block.get("source"), _at(path, "source"))
    if kind == "base64":
        media_type = _str(source.get("media_type"), _at(path, "source.media_type"))
        url = f"data:{media_type};base64,{_str(source.get('data'), _at(path, 'source.data'))}"
    elif kind == "url":
        url = _str(source.get("url"), _at(path, "source.url"))
    else:
        raise _refuse(_at(path, "source.type"), f"'{kind}' has no OpenAI chat equivalent.")
    return {"type": "image_url", "image_url": {"url": url}}


def _chat_tool(tool: Any, path: str) -> Json:
    tool = _obj(tool, path)
    if tool.get("type") not in (None, "custom"):
        raise _refuse(_at(path, "type"), "is a server tool the OpenAI chat API cannot run.")
    allowed = {"type", "name", "description", "input_schema", "strict", "eager_input_streaming"}
    _only(tool, frozenset(allowed), path, "OpenAI chat")
    function: Json = {
        "name": _str(tool.get("name"), _at(path, "name")),
        "parameters": _obj(tool.get("input_schema"), _at(path, "input_schema")),
    }
    if tool.get("description") is not None:
        function["description"] = _str(tool["description"], _at(path, "description"))
    if tool.get("strict") is not None:
        function["strict"] = bool(tool["strict"])
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: Json) -> tuple[str | Json, bool]:
    """The OpenAI tool_choice, and whether parallel tool calls are disabled."""
    allowed = frozenset({"type", "name", "disable_parallel_tool_use"})
    _only(choice, allowed, "tool_choice", "OpenAI chat")
    kind = choice.get("type")
    serial = bool(choice.get("disable_parallel_tool_use"))
    if kind == "tool":
        name = _str(choice.get("name"), "tool_choice.name")
        return {"type": "function", "function": {"name": name}}, serial
    modes = {"auto": "auto", "any": "required", "none": "none"}
    if kind not in modes:
        raise _refuse("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'.")
    return modes[kind], serial


def _chat_response_format(config: Json) -> Json | None:
    _only(config, frozenset({"format"}), "output_config", "OpenAI chat")
    if config.get("format") is None:
        return None
    fmt = _obj(config["format"], "output_config.format")
    if fmt.get("type") != "json_schema":
        raise _refuse("output_config.format.type", "must be 'json_schema'.")
    schema = _obj(fmt.get("schema"), "output_config.format.schema")
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


# --- OpenAI chat response -> Anthropic Message -------------------------------------------


def chat_to_messages_response(chat: Json, model: str) -> Json:
    """An OpenAI chat.completion as an Anthropic Message."""
    choices = _upstream(chat, "completion").get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError("upstream completion has no choices")
    choice = _upstream(choices[0], "choice")
    message = _upstream(choice.get("message"), "message")
    content: list[Json] = [
        {"type": "text", "text": text}
        for text in (message.get("content"), message.get("refusal"))
        if isinstance(text, str) and text
    ]
    for call in message.get("tool_calls") or []:
        function = _upstream(_upstream(call, "tool call").get("function"), "function")
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or f"toolu_{uuid.uuid4().hex}"),
                "name": str(function.get("name")),
                "input": _tool_input(function.get("arguments")),
            }
        )
    called = any(block["type"] == "tool_use" for block in content)
    return {
        "id": _message_id(chat.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(choice.get("finish_reason"), called),
        "stop_sequence": None,
        "usage": _anthropic_usage(chat.get("usage")),
    }


def _message_id(chat_id: Any) -> str:
    if isinstance(chat_id, str) and chat_id:
        return "msg_" + chat_id.removeprefix("chatcmpl-")
    return f"msg_{uuid.uuid4().hex}"


def _tool_input(arguments: Any) -> Json:
    """A tool call's arguments (a JSON string) as the tool_use input object."""
    if arguments in (None, ""):
        return {}
    value = json.loads(arguments) if isinstance(arguments, str) else arguments
    if not isinstance(value, dict):
        raise ValueError("upstream tool call arguments are not a JSON object")
    return value


def _cached_tokens(usage: Json) -> int | None:
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return cached if isinstance(cached, int) else None


def _anthropic_usage(usage: Any) -> Json:
    """OpenAI usage in Anthropic terms: input_tokens excludes the tokens read from cache."""
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0}
    prompt: int = usage["prompt_tokens"] if isinstance(usage.get("prompt_tokens"), int) else 0
    output = usage.get("completion_tokens")
    out: Json = {"input_tokens": prompt, "output_tokens": output if isinstance(output, int) else 0}
    cached = _cached_tokens(usage)
    if cached is not None:
        out["input_tokens"] = max(prompt - cached, 0)
        out["cache_read_input_tokens"] = cached
    return out


# --- OpenAI chat stream -> Anthropic Messages stream -------------------------------------


class ChatStreamToMessages:
    """OpenAI chat.completion.chunk objects in, Anthropic Messages stream events out."""

    def __init__(self, model: str, message_id: str) -> None:
        self._model = model
        self._id = message_id
        self._started = False
        self._blocks = 0
        self._open: tuple[str, int] | None = None
        self._closed_tools: set[int] = set()
        self._finish: Any = None
        self._usage: Json | None = None

    @property
    def usage(self) -> tuple[int, int] | None:
        """The last OpenAI usage seen, as (prompt_tokens, completion_tokens)."""
        if self._usage is None:
            return None
        return self._usage["prompt_tokens"], self._usage.get("completion_tokens") or 0

    def feed(self, chunk: Json) -> list[Event]:
        """The events for one OpenAI chunk (the first one also opens the message)."""
        chunk = _upstream(chunk, "chunk")
        if "error" in chunk:
            error = chunk["error"]
            raise UpstreamStreamError(
                str(error.get("message") if isinstance(error, dict) else error)
            )
        usage = chunk.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            self._usage = usage
        events = self._start()
        choices = chunk.get("choices") or []
        if not choices:
            return events
        choice = _upstream(choices[0], "choice")
        delta = _upstream(choice.get("delta") or {}, "delta")
        for text in (delta.get("content"), delta.get("refusal")):
            if isinstance(text, str) and text:
                events += self._text(text)
        for call in delta.get("tool_calls") or []:
            events += self._tool(_upstream(call, "tool call"))
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        """The closing events: the open block's stop, message_delta, message_stop."""
        events = self._start() + self._close()
        usage = _anthropic_usage(self._usage) if self._usage else {"output_tokens": 0}
        called = bool(self._closed_tools)
        delta = {"stop_reason": _stop_reason(self._finish, called), "stop_sequence": None}
        events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message: Json = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**_anthropic_usage(self._usage), "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _open_block(self, kind: tuple[str, int], block: Json) -> list[Event]:
        events = self._close()
        self._open = kind
        self._blocks += 1
        start = {"type": "content_block_start", "index": self._blocks - 1, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        if self._open[0] == "tool":
            self._closed_tools.add(self._open[1])
        self._open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1})]

    def _delta(self, delta: Json) -> Event:
        data = {"type": "content_block_delta", "index": self._blocks - 1, "delta": delta}
        return ("content_block_delta", data)

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open != ("text", 0):
            events = self._open_block(("text", 0), {"type": "text", "text": ""})
        return [*events, self._delta({"type": "text_delta", "text": text})]

    def _tool(self, call: Json) -> list[Event]:
        index = call.get("index", 0)
        if not isinstance(index, int):
            raise ValueError("upstream tool call fragment has no integer index")
        function = _upstream(call.get("function") or {}, "function")
        events: list[Event] = []
        if self._open != ("tool", index):
            if index in self._closed_tools:
                raise ValueError("upstream interleaved the fragments of parallel tool calls")
            name = function.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError("upstream tool call starts without a function name")
            tool_id = call.get("id") or f"toolu_{self._id}_{index}"
            block: Json = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
            events = self._open_block(("tool", index), block)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return events


# --- OpenAI chat request -> Anthropic request --------------------------------------------


def chat_to_messages_request(body: Json, model: str, default_max_tokens: int) -> Json:
    """An OpenAI chat completion request as an Anthropic Messages request for `model`."""
    _only(body, _CHAT_FIELDS | set(_CHAT_NEUTRAL), "", "Anthropic Messages")
    for key, neutral in _CHAT_NEUTRAL.items():
        if body.get(key) is not None and body[key] != neutral:
            raise _refuse(key, "cannot be expressed in the Anthropic Messages API.")
    temperature = body.get("temperature")
    if temperature is not None and not (
        isinstance(temperature, int | float) and 0 <= temperature <= 1
    ):
        raise _refuse("temperature", "must be between 0 and 1 for Anthropic models.")
    system, turns = _anthropic_turns(_items(body.get("messages"), "messages"))
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    out: Json = {"model": model, "max_tokens": max_tokens, "messages": turns}
    if system:
        out["system"] = system
    for key in ("temperature", "top_p", "top_k", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop:
        stops = [stop] if isinstance(stop, str) else _items(stop, "stop")
        out["stop_sequences"] = [_str(s, "stop") for s in stops]
    user_field = "safety_identifier" if body.get("safety_identifier") else "user"
    if body.get(user_field) is not None:
        out["metadata"] = {"user_id": _str(body[user_field], user_field)}
    if body.get("tools"):
        tools = _items(body["tools"], "tools")
        out["tools"] = [_anthropic_tool(t, f"tools.{i}") for i, t in enumerate(tools)]
    choice = _anthropic_tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice is not None:
        out["tool_choice"] = choice
    if body.get("response_format") is not None:
        output_format = _anthropic_output_format(_obj(body["response_format"], "response_format"))
        if output_format is not None:
            out["output_config"] = {"format": output_format}
    return out


def _anthropic_turns(messages: list[Any]) -> tuple[list[Json], list[Json]]:
    """System text blocks, and the other messages as alternating user/assistant turns."""
    system: list[Json] = []
    turns: list[Json] = []
    for i, raw in enumerate(messages):
        path = f"messages.{i}"
        message = _obj(raw, path)
        role = message.get("role")
        if role in ("system", "developer"):
            _only(message, frozenset({"role", "content"}), path, "Anthropic Messages")
            system += _anthropic_text(message.get("content"), _at(path, "content"))
            continue
        if role == "user":
            _only(message, frozenset({"role", "content"}), path, "Anthropic Messages")
            blocks = _anthropic_user(message.get("content"), _at(path, "content"))
        elif role == "assistant":
            blocks = _anthropic_assistant(message, path)
        elif role == "tool":
            role, blocks = "user", [_anthropic_tool_result(message, path)]
        else:
            raise _refuse(_at(path, "role"), "cannot be expressed in the Anthropic Messages API.")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    if not turns:
        raise _refuse("messages", "must hold at least one user or assistant message.")
    for turn in turns:
        if len(turn["content"]) == 1 and turn["content"][0]["type"] == "text":
            turn["content"] = turn["content"][0]["text"]
    return system, turns


def _anthropic_text(content: Any, path: str) -> list[Json]:
    """OpenAI text content (a string or text parts) as non-empty Anthropic text blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, raw in enumerate(_items(content, path)):
        part, kind = _typed(raw, _at(path, j))
        if kind != "text":
            raise _refuse(_at(_at(path, j), "type"), "must be 'text' here.")
        blocks += _anthropic_part_text(part, _at(path, j))
    return blocks


def _anthropic_part_text(part: Json, path: str) -> list[Json]:
    text = _text_block(part, path, "Anthropic Messages")
    return [{"type": "text", "text": text}] if text else []


def _anthropic_user(content: Any, path: str) -> list[Json]:
    if isinstance(content, str):
        return _anthropic_text(content, path)
    blocks: list[Json] = []
    for j, raw in enumerate(_items(content, path)):
        part, kind = _typed(raw, _at(path, j))
        if kind == "image_url":
            blocks.append(_anthropic_image(part, _at(path, j)))
        elif kind == "text":
            blocks += _anthropic_part_text(part, _at(path, j))
        else:
            raise _refuse(_at(_at(path, j), "type"), f"'{kind}' has no Anthropic equivalent.")
    return blocks


def _anthropic_image(part: Json, path: str) -> Json:
    """An image_url part (`detail` is a resolution hint Anthropic decides alone) as a block."""
    _only(part, frozenset({"type", "image_url"}), path, "Anthropic Messages")
    image = _obj(part.get("image_url"), _at(path, "image_url"))
    url = _str(image.get("url"), _at(path, "image_url.url"))
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, _, data = url.partition(",")
    media_type = header.removeprefix("data:").removesuffix(";base64")
    if not header.startswith("data:") or not header.endswith(";base64") or not data:
        raise _refuse(_at(path, "image_url.url"), "must be an http(s) or base64 data: URL.")
    if media_type not in _MEDIA_TYPES:
        raise _refuse(
            _at(path, "image_url.url"), f"has type {media_type!r}, not JPEG/PNG/GIF/WebP."
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _anthropic_assistant(message: Json, path: str) -> list[Json]:
    allowed = frozenset({"role", "content", "tool_calls", "refusal"})
    _only(message, allowed, path, "Anthropic Messages")
    content = message.get("content")
    blocks: list[Json] = []
    if isinstance(content, list):
        for j, raw in enumerate(content):
            part_path = _at(path, f"content.{j}")
            part, kind = _typed(raw, part_path)
            if kind == "refusal":
                part = {"type": "text", "text": part.get("refusal")}
            elif kind != "text":
                raise _refuse(_at(part_path, "type"), "must be 'text' or 'refusal'.")
            blocks += _anthropic_part_text(part, part_path)
    elif content is not None:
        blocks += _anthropic_text(content, _at(path, "content"))
    if message.get("refusal"):
        blocks += _anthropic_text(message["refusal"], _at(path, "refusal"))
    calls = _items(message.get("tool_calls") or [], _at(path, "tool_calls"))
    for j, call in enumerate(calls):
        blocks.append(_anthropic_tool_use(call, _at(path, f"tool_calls.{j}")))
    return blocks


def _anthropic_tool_use(call: Any, path: str) -> Json:
    call = _obj(call, path)
    if call.get("type", "function") != "function":
        raise _refuse(_at(path, "type"), "must be 'function'.")
    function = _obj(call.get("function"), _at(path, "function"))
    arguments = function.get("arguments")
    try:
        tool_input = _tool_input(arguments)
    except ValueError:  # json.JSONDecodeError is a ValueError
        raise _refuse(_at(path, "function.arguments"), "must be a JSON object.") from None
    return {
        "type": "tool_use",
        "id": _str(call.get("id"), _at(path, "id")),
        "name": _str(function.get("name"), _at(path, "function.name")),
        "input": tool_input,
    }


def _anthropic_tool_result(message: Json, path: str) -> Json:
    _only(message, frozenset({"role", "content", "tool_call_id"}), path, "Anthropic Messages")
    content = message.get("content")
    result: Json = {
        "type": "tool_result",
        "tool_use_id": _str(message.get("tool_call_id"), _at(path, "tool_call_id")),
    }
    if isinstance(content, str):
        result["content"] = content
    elif content is not None:
        result["content"] = _anthropic_text(content, _at(path, "content"))
    return result


def _anthropic_tool(tool: Any, path: str) -> Json:
    tool = _obj(tool, path)
    if tool.get("type") != "function":
        raise _refuse(_at(path, "type"), "must be 'function'.")
    _only(tool, frozenset({"type", "function"}), path, "Anthropic Messages")
    function = _obj(tool.get("function"), _at(path, "function"))
    allowed = frozenset({"name", "description", "parameters", "strict"})
    _only(function, allowed, _at(path, "function"), "Anthropic Messages")
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    out: Json = {
        "name": _str(function.get("name"), _at(path, "function.name")),
        "input_schema": _obj(schema, _at(path, "function.parameters")),
    }
    if function.get("description") is not None:
        out["description"] = _str(function["description"], _at(path, "function.description"))
    if function.get("strict") is not None:
        out["strict"] = bool(function["strict"])
    return out


def _anthropic_tool_choice(choice: Any) -> Json | None:
    if choice is None:
        return None
    modes = {"auto": "auto", "required": "any", "none": "none"}
    if isinstance(choice, str) and choice in modes:
        return {"type": modes[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = _obj(choice.get("function"), "tool_choice.function").get("name")
        return {"type": "tool", "name": _str(name, "tool_choice.function.name")}
    raise _refuse("tool_choice", "must be 'auto', 'required', 'none' or a named function.")


def _anthropic_output_format(response_format: Json) -> Json | None:
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind != "json_schema":
        raise _refuse("response_format", f"type {kind!r} has no Anthropic equivalent.")
    spec = _obj(response_format.get("json_schema"), "response_format.json_schema")
    allowed = frozenset({"name", "schema", "strict"})
    _only(spec, allowed, "response_format.json_schema", "Anthropic Messages")
    schema = _obj(spec.get("schema"), "response_format.json_schema.schema")
    return {"type": "json_schema", "schema": schema}


# --- Anthropic Message -> OpenAI chat.completion -----------------------------------------


def messages_to_chat_response(message: Json, request_model: str) -> Json:
    """An Anthropic Message as an OpenAI chat.completion (thinking blocks are not shown)."""
    content = _upstream(message, "message").get("content")
    if not isinstance(content, list):
        raise ValueError("upstream message has no content array")
    texts: list[str] = []
    calls: list[Json] = []
    for raw in content:
        block = _upstream(raw, "content block")
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            calls.append(_openai_tool_call(block))
    reply: Json = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    choice = {
        "index": 0,
        "message": reply,
        "logprobs": None,
        "finish_reason": _FINISH_REASONS.get(str(message.get("stop_reason")), "stop"),
    }
    return {
        "id": "chatcmpl-" + str(message.get("id") or uuid.uuid4().hex).removeprefix("msg_"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request_model,
        "choices": [choice],
        "usage": _openai_usage(_upstream(message.get("usage") or {}, "usage")),
    }


def _openai_tool_call(block: Json) -> Json:
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
    function = {"name": str(block.get("name")), "arguments": arguments}
    return {"id": str(block.get("id")), "type": "function", "function": function}


def _counts(usage: Json) -> tuple[int, int, int]:
    """(prompt tokens including cache reads and writes, cache reads, output tokens)."""

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) else 0

    cache_read = count("cache_read_input_tokens")
    prompt = count("input_tokens") + cache_read + count("cache_creation_input_tokens")
    return prompt, cache_read, count("output_tokens")


def _openai_usage(usage: Json) -> Json:
    prompt, cache_read, output = _counts(usage)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    }


# --- Anthropic stream -> OpenAI chat stream ----------------------------------------------


class MessagesStreamToChat:
    """Anthropic Messages stream events in, OpenAI chat.completion.chunk objects out."""

    def __init__(self, model: str, chunk_id: str, include_usage: bool) -> None:
        self._model = model
        self._id = chunk_id
        self._include_usage = include_usage
        self._created = int(time.time())
        self._tools: dict[int, int] = {}
        self._finish = "stop"
        self._usage: Json | None = None

    @property
    def usage(self) -> tuple[int, int] | None:
        """(prompt tokens including cache, output tokens) once message_start has reported them."""
        if self._usage is None:
            return None
        prompt, _, output = _counts(self._usage)
        return prompt, output

    def feed(self, event: str, data: Json) -> list[Json]:
        """The chunks for one Anthropic event; unknown events and pings yield none."""
        data = _upstream(data, "event")
        if event == "error":
            error = data.get("error")
            raise UpstreamStreamError(
                str(error.get("message") if isinstance(error, dict) else error)
            )
        if event == "message_start":
            usage = _upstream(data.get("message"), "message").get("usage")
            self._usage = dict(_upstream(usage, "usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if event == "content_block_start":
            return self._block_start(data)
        if event == "content_block_delta":
            return self._block_delta(data)
        if event == "message_delta":
            if isinstance(data.get("usage"), dict):  # cumulative; null means unchanged
                known = {k: v for k, v in data["usage"].items() if v is not None}
                self._usage = {**(self._usage or {}), **known}
            stop_reason = _upstream(data.get("delta") or {}, "delta").get("stop_reason")
            if stop_reason is not None:
                self._finish = _FINISH_REASONS.get(stop_reason, "stop")
            return []
        if event == "message_stop":
            return self._close()
        return []

    def _chunk(self, delta: Json, finish_reason: str | None = None) -> Json:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk: Json = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [choice],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _block_start(self, data: Json) -> list[Json]:
        block = _upstream(data.get("content_block"), "content block")
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []
        self._tools[data.get("index", -1)] = position = len(self._tools)
        arguments = json.dumps(block["input"], ensure_ascii=False) if block.get("input") else ""
        call = {
            "index": position,
            "id": str(block.get("id")),
            "type": "function",
            "function": {"name": str(block.get("name")), "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, data: Json) -> list[Json]:
        delta = _upstream(data.get("delta"), "delta")
        if delta.get("type") == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        position = self._tools.get(data.get("index", -1))
        if (
            delta.get("type") == "input_json_delta"
            and position is not None
            and delta.get("partial_json")
        ):
            call = {"index": position, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _close(self) -> list[Json]:
        chunks = [self._chunk({}, self._finish)]
        if self._include_usage:
            usage = _openai_usage(self._usage or {})
            chunks.append({**self._chunk({}), "choices": [], "usage": usage})
        return chunks


# --- errors ------------------------------------------------------------------------------


def anthropic_error_type(status: int) -> str:
    """The Anthropic error `type` for an HTTP status."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str, request_id: str | None) -> Json:
    """An Anthropic error body: {"type": "error", "error": {type, message}, "request_id"}."""
    error = {"type": anthropic_error_type(status), "message": message}
    return {"type": "error", "error": error, "request_id": request_id}


def parse_messages_request(raw: bytes) -> Json:
    """Decode a Messages request and check what every route relies on, native or not."""
    body = decode_object(raw)
    positive_int(body, "max_tokens", required=True)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array.", param="messages")
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequest("stream: must be a boolean.", param="stream")
    return body

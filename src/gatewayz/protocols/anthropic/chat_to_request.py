"""OpenAI chat requests in: the Anthropic Messages request for one (sent to an Anthropic
upstream)."""

from typing import Any

from gatewayz.protocols.anthropic.common import at, only, text_block, tool_input, typed
from gatewayz.protocols.checks import Json, array, obj, refuse, string
from gatewayz.protocols.fields import Dropped

_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
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
        "reasoning_effort",
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


def chat_to_messages_request(
    body: Json, model: str, default_max_tokens: int, dropped: Dropped | None = None
) -> Json:
    """An OpenAI chat completion request as an Anthropic Messages request for `model`;
    `dropped` records the hints a translation leaves out (see protocols.fields)."""
    only(body, _CHAT_FIELDS | set(_CHAT_NEUTRAL), "", "Anthropic Messages")
    for key, neutral in _CHAT_NEUTRAL.items():
        if body.get(key) is not None and body[key] != neutral:
            raise refuse(key, "cannot be expressed in the Anthropic Messages API.")
    temperature = body.get("temperature")
    if temperature is not None and not (
        isinstance(temperature, int | float) and 0 <= temperature <= 1
    ):
        raise refuse("temperature", "must be between 0 and 1 for Anthropic models.")
    if body.get("reasoning_effort") is not None and dropped is not None:
        dropped.drop("reasoning_effort", "it is not translated into a thinking budget")
    system, turns = _anthropic_turns(array(body.get("messages"), "messages"))
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    out: Json = {"model": model, "max_tokens": max_tokens, "messages": turns}
    if system:
        out["system"] = system
    for key in ("temperature", "top_p", "top_k", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop:
        stops = [stop] if isinstance(stop, str) else array(stop, "stop")
        out["stop_sequences"] = [string(s, "stop") for s in stops]
    user_field = "safety_identifier" if body.get("safety_identifier") else "user"
    if body.get(user_field) is not None:
        out["metadata"] = {"user_id": string(body[user_field], user_field)}
    if body.get("tools"):
        tools = array(body["tools"], "tools")
        out["tools"] = [_anthropic_tool(t, f"tools.{i}") for i, t in enumerate(tools)]
    choice = _anthropic_tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice is not None:
        out["tool_choice"] = choice
    if body.get("response_format") is not None:
        output_format = _anthropic_output_format(obj(body["response_format"], "response_format"))
        if output_format is not None:
            out["output_config"] = {"format": output_format}
    return out


def _anthropic_turns(messages: list[Any]) -> tuple[list[Json], list[Json]]:
    """System text blocks, and the other messages as alternating user/assistant turns."""
    system: list[Json] = []
    turns: list[Json] = []
    for i, raw in enumerate(messages):
        path = f"messages.{i}"
        message = obj(raw, path)
        role = message.get("role")
        if role in ("system", "developer"):
            only(message, frozenset({"role", "content"}), path, "Anthropic Messages")
            system += _anthropic_text(message.get("content"), at(path, "content"))
            continue
        if role == "user":
            only(message, frozenset({"role", "content"}), path, "Anthropic Messages")
            blocks = _anthropic_user(message.get("content"), at(path, "content"))
        elif role == "assistant":
            blocks = _anthropic_assistant(message, path)
        elif role == "tool":
            role, blocks = "user", [_anthropic_tool_result(message, path)]
        else:
            raise refuse(at(path, "role"), "cannot be expressed in the Anthropic Messages API.")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    if not turns:
        raise refuse("messages", "must hold at least one user or assistant message.")
    for turn in turns:
        if len(turn["content"]) == 1 and turn["content"][0]["type"] == "text":
            turn["content"] = turn["content"][0]["text"]
    return system, turns


def _anthropic_text(content: Any, path: str) -> list[Json]:
    """OpenAI text content (a string or text parts) as non-empty Anthropic text blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, raw in enumerate(array(content, path)):
        part, kind = typed(raw, at(path, j))
        if kind != "text":
            raise refuse(at(at(path, j), "type"), "must be 'text' here.")
        blocks += _anthropic_part_text(part, at(path, j))
    return blocks


def _anthropic_part_text(part: Json, path: str) -> list[Json]:
    text = text_block(part, path, "Anthropic Messages")
    return [{"type": "text", "text": text}] if text else []


def _anthropic_user(content: Any, path: str) -> list[Json]:
    if isinstance(content, str):
        return _anthropic_text(content, path)
    blocks: list[Json] = []
    for j, raw in enumerate(array(content, path)):
        part, kind = typed(raw, at(path, j))
        if kind == "image_url":
            blocks.append(_anthropic_image(part, at(path, j)))
        elif kind == "text":
            blocks += _anthropic_part_text(part, at(path, j))
        else:
            raise refuse(at(at(path, j), "type"), f"'{kind}' has no Anthropic equivalent.")
    return blocks


def _anthropic_image(part: Json, path: str) -> Json:
    """An image_url part (`detail` is a resolution hint Anthropic decides alone) as a block."""
    only(part, frozenset({"type", "image_url"}), path, "Anthropic Messages")
    image = obj(part.get("image_url"), at(path, "image_url"))
    url = string(image.get("url"), at(path, "image_url.url"))
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, _, data = url.partition(",")
    media_type = header.removeprefix("data:").removesuffix(";base64")
    if not header.startswith("data:") or not header.endswith(";base64") or not data:
        raise refuse(at(path, "image_url.url"), "must be an http(s) or base64 data: URL.")
    if media_type not in _MEDIA_TYPES:
        raise refuse(at(path, "image_url.url"), f"has type {media_type!r}, not JPEG/PNG/GIF/WebP.")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _anthropic_assistant(message: Json, path: str) -> list[Json]:
    allowed = frozenset({"role", "content", "tool_calls", "refusal"})
    only(message, allowed, path, "Anthropic Messages")
    content = message.get("content")
    blocks: list[Json] = []
    if isinstance(content, list):
        for j, raw in enumerate(content):
            part_path = at(path, f"content.{j}")
            part, kind = typed(raw, part_path)
            if kind == "refusal":
                part = {"type": "text", "text": part.get("refusal")}
            elif kind != "text":
                raise refuse(at(part_path, "type"), "must be 'text' or 'refusal'.")
            blocks += _anthropic_part_text(part, part_path)
    elif content is not None:
        blocks += _anthropic_text(content, at(path, "content"))
    if message.get("refusal"):
        blocks += _anthropic_text(message["refusal"], at(path, "refusal"))
    calls = array(message.get("tool_calls") or [], at(path, "tool_calls"))
    for j, call in enumerate(calls):
        blocks.append(_anthropic_tool_use(call, at(path, f"tool_calls.{j}")))
    return blocks


def _anthropic_tool_use(call: Any, path: str) -> Json:
    call = obj(call, path)
    if call.get("type", "function") != "function":
        raise refuse(at(path, "type"), "must be 'function'.")
    function = obj(call.get("function"), at(path, "function"))
    arguments = function.get("arguments")
    try:
        input_ = tool_input(arguments)
    except ValueError:  # json.JSONDecodeError is a ValueError
        raise refuse(at(path, "function.arguments"), "must be a JSON object.") from None
    return {
        "type": "tool_use",
        "id": string(call.get("id"), at(path, "id")),
        "name": string(function.get("name"), at(path, "function.name")),
        "input": input_,
    }


def _anthropic_tool_result(message: Json, path: str) -> Json:
    only(message, frozenset({"role", "content", "tool_call_id"}), path, "Anthropic Messages")
    content = message.get("content")
    result: Json = {
        "type": "tool_result",
        "tool_use_id": string(message.get("tool_call_id"), at(path, "tool_call_id")),
    }
    if isinstance(content, str):
        result["content"] = content
    elif content is not None:
        result["content"] = _anthropic_text(content, at(path, "content"))
    return result


def _anthropic_tool(tool: Any, path: str) -> Json:
    tool = obj(tool, path)
    if tool.get("type") != "function":
        raise refuse(at(path, "type"), "must be 'function'.")
    only(tool, frozenset({"type", "function"}), path, "Anthropic Messages")
    function = obj(tool.get("function"), at(path, "function"))
    allowed = frozenset({"name", "description", "parameters", "strict"})
    only(function, allowed, at(path, "function"), "Anthropic Messages")
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    out: Json = {
        "name": string(function.get("name"), at(path, "function.name")),
        "input_schema": obj(schema, at(path, "function.parameters")),
    }
    if function.get("description") is not None:
        out["description"] = string(function["description"], at(path, "function.description"))
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
        name = obj(choice.get("function"), "tool_choice.function").get("name")
        return {"type": "tool", "name": string(name, "tool_choice.function.name")}
    raise refuse("tool_choice", "must be 'auto', 'required', 'none' or a named function.")


def _anthropic_output_format(response_format: Json) -> Json | None:
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind != "json_schema":
        raise refuse("response_format", f"type {kind!r} has no Anthropic equivalent.")
    spec = obj(response_format.get("json_schema"), "response_format.json_schema")
    allowed = frozenset({"name", "schema", "strict"})
    only(spec, allowed, "response_format.json_schema", "Anthropic Messages")
    schema = obj(spec.get("schema"), "response_format.json_schema.schema")
    return {"type": "json_schema", "schema": schema}

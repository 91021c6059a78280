"""Google Gemini generateContent: OpenAI chat requests in, chat completions and chunks out.

Gemini's function calls carry no ids, so ids are made up on the way back, and a tool result
finds its function name through the assistant tool call whose id it quotes. A Gemini 3
function call also carries a `thoughtSignature` that must be sent back with it (else 400):
it rides inside the made-up id (`call_<hex>__thought__<signature>`), and the first call of
a model turn that has none gets Google's documented placeholder signature.

Finish reasons: STOP -> stop (tool_calls when the candidate called a function),
MAX_TOKENS -> length, the filter family (SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT,
SPII, IMAGE_*) -> content_filter. Everything else (MALFORMED_FUNCTION_CALL, OTHER, LANGUAGE,
TOO_MANY_TOOL_CALLS, ...) -> stop: OpenAI has no value for "the model failed", and the text
so far is still what the client can use.
"""

import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson

from gatewayz.errors import InvalidRequest

Json = dict[str, Any]

_SIGNATURE_MARK = "__thought__"
_PLACEHOLDER_SIGNATURE = "skip_thought_signature_validator"

_NUMBERS = {
    "temperature": "temperature",
    "top_p": "topP",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
# max_completion_tokens comes last so that it wins over max_tokens.
_INTEGERS = {
    "n": "candidateCount",
    "seed": "seed",
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
}
_TRANSLATED = frozenset(
    {*_NUMBERS, *_INTEGERS, "messages", "tools", "tool_choice", "stop", "response_format"}
)
_PASSIVE = frozenset(
    {"model", "stream", "stream_options", "user", "store", "metadata", "safety_identifier"}
)
_NEUTRAL = {"logprobs": False, "parallel_tool_calls": True, "modalities": ["text"]}

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

_TYPES = {
    name: name.upper() for name in ("string", "number", "integer", "boolean", "array", "object")
}
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "INTEGER": {"int32", "int64"},
    "NUMBER": {"float", "double"},
}
# fmt: off
_SCHEMA_COPIED = frozenset({
    "description", "title", "nullable", "required", "default", "example", "pattern", "minimum",
    "maximum", "minItems", "maxItems", "minLength", "maxLength", "minProperties",
    "maxProperties", "propertyOrdering",
})
# Annotations Gemini's OpenAPI-subset Schema rejects and that do not change the shape.
_SCHEMA_STRIPPED = frozenset(
    {"$schema", "$id", "$comment", "$defs", "definitions", "additionalProperties", "examples"}
)

_FILTERED = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
})
# fmt: on


# --- request ---------------------------------------------------------------------------


def chat_to_gemini_request(body: Json) -> Json:
    """The Gemini GenerateContentRequest for an OpenAI chat completion request."""
    for field, value in body.items():
        if field in _TRANSLATED or field in _PASSIVE or value is None:
            continue
        if field not in _NEUTRAL or _NEUTRAL[field] != value:
            raise InvalidRequest(f"'{field}' is not supported by Gemini models.", param=field)
    system, contents = _contents(body.get("messages"))
    out: Json = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    names: list[str] = []
    if body.get("tools") is not None:
        declarations = _declarations(body["tools"])
        names = [declaration["name"] for declaration in declarations]
        if declarations:
            out["tools"] = [{"functionDeclarations": declarations}]
    tool_config = _tool_config(body.get("tool_choice"), names)
    if tool_config:
        out["toolConfig"] = tool_config
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    return out


def _contents(messages: Any) -> tuple[list[Json], list[Json]]:
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
            first_call.setdefault("thoughtSignature", _PLACEHOLDER_SIGNATURE)
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
            text = _string(item.get("text"), f"{where}.text")
            if text:
                parts.append({"text": text})
        elif kind == "image_url":
            parts.append(_image(item.get("image_url"), f"{where}.image_url"))
        else:
            audio = _object(item.get("input_audio"), f"{where}.input_audio")
            data = _string(audio.get("data"), f"{where}.input_audio.data")
            fmt = _string(audio.get("format"), f"{where}.input_audio.format")
            parts.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": data}})
    return parts


def _image(image_url: Any, path: str) -> Json:
    """An inlineData part for a data: URL, a fileData part for an http(s) URL."""
    url = _string(_object(image_url, path).get("url"), f"{path}.url")
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
    if not isinstance(tool_calls, list):
        raise InvalidRequest(f"'{path}.tool_calls' must be an array.", param=f"{path}.tool_calls")
    for k, call in enumerate(tool_calls):
        where = f"{path}.tool_calls.{k}"
        if not isinstance(call, dict) or call.get("type", "function") != "function":
            raise InvalidRequest(
                "Only function tool calls are supported by Gemini models.", param=f"{where}.type"
            )
        call_id = _string(call.get("id"), f"{where}.id")
        function = _object(call.get("function"), f"{where}.function")
        name = _string(function.get("name"), f"{where}.function.name")
        arguments = _string(function.get("arguments"), f"{where}.function.arguments")
        try:
            args = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            raise InvalidRequest(
                "Tool call arguments must be a JSON object.", param=f"{where}.function.arguments"
            )
        part: Json = {"functionCall": {"name": name, "args": args}}
        _, mark, signature = call_id.partition(_SIGNATURE_MARK)
        if mark and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
        calls[call_id] = name
    return parts


def _tool_result(message: Json, path: str, calls: dict[str, str]) -> Json:
    """A functionResponse part, named after the assistant tool call it answers."""
    call_id = _string(message.get("tool_call_id"), f"{path}.tool_call_id")
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


def _declarations(tools: Any) -> list[Json]:
    """Gemini function declarations for OpenAI function tools."""
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    declarations: list[Json] = []
    for k, tool in enumerate(tools):
        where = f"tools.{k}"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise InvalidRequest(
                "Only function tools are supported by Gemini models.", param=f"{where}.type"
            )
        function = _object(tool.get("function"), f"{where}.function")
        declaration = {"name": _string(function.get("name"), f"{where}.function.name")}
        if function.get("description") is not None:
            declaration["description"] = _string(
                function["description"], f"{where}.function.description"
            )
        if function.get("parameters") is not None:
            schema = _root_schema(function["parameters"], f"{where}.function.parameters")
            # Gemini rejects an OBJECT without properties: a function without arguments.
            if schema.get("type") != "OBJECT" or schema.get("properties"):
                declaration["parameters"] = schema
        declarations.append(declaration)
    return declarations


def _tool_config(choice: Any, names: list[str]) -> Json | None:
    """toolConfig for an OpenAI tool_choice; None when there is nothing to say."""
    if choice is None or (choice in ("none", "auto") and not names):
        return None
    if choice in ("none", "auto", "required"):
        if not names:
            raise InvalidRequest("tool_choice 'required' needs tools.", param="tool_choice")
        mode = {"none": "NONE", "auto": "AUTO", "required": "ANY"}[choice]
        return {"functionCallingConfig": {"mode": mode}}
    function = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(function, dict) or choice.get("type") != "function":
        raise InvalidRequest(
            "tool_choice must be 'none', 'auto', 'required' or a named function for Gemini models.",
            param="tool_choice",
        )
    name = function.get("name")
    if name not in names:
        raise InvalidRequest(
            f"tool_choice names {name!r}, which is not one of the tools.",
            param="tool_choice.function.name",
        )
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _generation_config(body: Json) -> Json:
    """generationConfig from the sampling, length, stop and response_format fields."""
    config: Json = {}
    for field, key in _NUMBERS.items():
        value = body.get(field)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRequest(f"'{field}' must be a number.", param=field)
            config[key] = value
    for field, key in _INTEGERS.items():
        value = body.get(field)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequest(f"'{field}' must be an integer.", param=field)
            config[key] = value
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequest("'stop' must be a string or an array of strings.", param="stop")
        config["stopSequences"] = stops
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
    if kind == "json_schema":
        spec = _object(response_format.get("json_schema"), "response_format.json_schema")
        if spec.get("schema") is not None:
            path = "response_format.json_schema.schema"
            config["responseSchema"] = _root_schema(spec["schema"], path)
    elif response_format is not None and kind not in ("text", "json_object"):
        raise InvalidRequest(
            "response_format.type must be text, json_object or json_schema.",
            param="response_format.type",
        )
    return config


# --- JSON schema -> Gemini Schema (an OpenAPI 3.0 subset) ---------------------------------


def _root_schema(schema: Any, path: str) -> Json:
    """A Gemini Schema for a JSON schema, its local $refs inlined."""
    node = _object(schema, path)
    defs = node.get("$defs") or node.get("definitions") or {}
    return _schema(node, path, _object(defs, f"{path}.$defs"), ())


def _schema(node: Any, path: str, defs: Json, seen: tuple[str, ...]) -> Json:
    """One schema node: keywords Gemini knows kept, harmless ones dropped, others refused."""
    node = _object(node, path)
    if "$ref" in node:
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else ""
        if name in seen or not isinstance(defs.get(name), dict):
            raise InvalidRequest(
                "Only non-recursive local $refs ('#/$defs/...') can be sent to Gemini models.",
                param=f"{path}.$ref",
            )
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _schema({**defs[name], **siblings}, path, defs, (*seen, name))
    out: Json = {}
    for key, value in node.items():
        where = f"{path}.{key}"
        if key in _SCHEMA_STRIPPED or key == "format":
            continue
        if key == "type":
            out.update(_type(value, where))
        elif key in ("enum", "const"):
            out.update(_enum(value if key == "enum" else [value], where))
        elif key == "properties":
            properties = _object(value, where).items()
            out[key] = {
                name: _schema(sub, f"{where}.{name}", defs, seen) for name, sub in properties
            }
        elif key == "items":
            out[key] = _schema(value, where, defs, seen)
        elif key == "anyOf":
            for merged_key, merged in _any_of(value, where, defs, seen).items():
                out.setdefault(merged_key, merged)
        elif key in _SCHEMA_COPIED:
            out[key] = value
        else:
            raise InvalidRequest(
                f"The JSON schema keyword '{key}' is not supported by Gemini models.", param=where
            )
    if node.get("format") in _FORMATS.get(out.get("type", ""), ()):
        out["format"] = node["format"]
    return out


def _type(value: Any, path: str) -> Json:
    """Gemini's upper-case type; a ["T", "null"] pair becomes T and nullable."""
    names = value if isinstance(value, list) else [value]
    kinds = [name for name in names if name != "null"]
    if len(kinds) != 1 or kinds[0] not in _TYPES:
        raise InvalidRequest(
            "A schema type must be one of string, number, integer, boolean, array, object "
            "(optionally with null) for Gemini models.",
            param=path,
        )
    out: Json = {"type": _TYPES[kinds[0]]}
    if len(kinds) < len(names):
        out["nullable"] = True
    return out


def _enum(values: Any, path: str) -> Json:
    """Gemini enums hold strings; a null member becomes nullable."""
    if not isinstance(values, list):
        raise InvalidRequest("'enum' must be an array.", param=path)
    strings = [value for value in values if value is not None]
    if not all(isinstance(value, str) for value in strings):
        raise InvalidRequest("Gemini models accept only string enum values.", param=path)
    out: Json = {"enum": strings}
    if len(strings) < len(values):
        out["nullable"] = True
    return out


def _any_of(value: Any, path: str, defs: Json, seen: tuple[str, ...]) -> Json:
    """anyOf with its {"type": "null"} branch turned into nullable, a lone branch inlined."""
    if not isinstance(value, list) or not value:
        raise InvalidRequest("'anyOf' must be a non-empty array.", param=path)
    branches = [
        _schema(branch, f"{path}.{i}", defs, seen)
        for i, branch in enumerate(value)
        if branch != {"type": "null"}
    ]
    out: Json = branches[0] if len(branches) == 1 else {"anyOf": branches}
    if len(branches) < len(value):
        out["nullable"] = True
    return out


def _object(value: Any, path: str) -> Json:
    """`value` when it is a JSON object, else InvalidRequest naming `path`."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path)
    return value


def _string(value: Any, path: str) -> str:
    """`value` when it is a string, else InvalidRequest naming `path`."""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{path}' must be a string.", param=path)
    return value


# --- response --------------------------------------------------------------------------


def _new_call_id() -> str:
    """A made-up tool call id."""
    return f"call_{secrets.token_hex(12)}"


def _finish_reason(reason: str, called: bool) -> str:
    """The OpenAI finish_reason for a Gemini finishReason (see the module docstring)."""
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def _output(candidate: Json, new_id: Callable[[], str]) -> tuple[str | None, list[Json]]:
    """A candidate's answer text (None when it has none) and its tool calls."""
    texts: list[str] = []
    calls: list[Json] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if part.get("thought"):
            continue
        if part.get("text"):
            texts.append(part["text"])
        call = part.get("functionCall")
        if call:
            call_id = new_id()
            if part.get("thoughtSignature"):
                call_id += _SIGNATURE_MARK + part["thoughtSignature"]
            arguments = orjson.dumps(call.get("args") or {}).decode()
            function = {"name": call.get("name", ""), "arguments": arguments}
            calls.append({"id": call_id, "type": "function", "function": function})
    return ("".join(texts) if texts else None), calls


def _usage(meta: Any) -> Json | None:
    """OpenAI usage for a usageMetadata (thinking tokens count as completion tokens)."""
    if not isinstance(meta, dict):
        return None
    prompt = meta.get("promptTokenCount", 0)
    thoughts = meta.get("thoughtsTokenCount", 0)
    completion = meta.get("candidatesTokenCount", 0) + thoughts
    usage: Json = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": meta.get("cachedContentTokenCount", 0)},
    }
    if thoughts:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return usage


def _blocked(resp: Json) -> bool:
    """Whether the prompt itself was blocked (promptFeedback.blockReason, no candidates)."""
    return not resp.get("candidates") and bool(
        (resp.get("promptFeedback") or {}).get("blockReason")
    )


def gemini_to_chat_response(
    resp: Json, model: str, tool_call_ids: Callable[[], str] | None = None
) -> Json:
    """The OpenAI chat.completion for a GenerateContentResponse."""
    new_id = tool_call_ids or _new_call_id
    choices: list[Json] = []
    for position, candidate in enumerate(resp.get("candidates") or ()):
        text, calls = _output(candidate, new_id)
        message: Json = {"role": "assistant", "content": text, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        reason = _finish_reason(candidate.get("finishReason", "STOP"), bool(calls))
        index = candidate.get("index", position)
        choices.append({"index": index, "message": message, "finish_reason": reason})
    if not choices:
        reason = "content_filter" if _blocked(resp) else "stop"
        message = {"role": "assistant", "content": None, "refusal": None}
        choices.append({"index": 0, "message": message, "finish_reason": reason})
    out: Json = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{**choice, "logprobs": None} for choice in choices],
    }
    usage = _usage(resp.get("usageMetadata"))
    if usage is not None:
        out["usage"] = usage
    return out


class GeminiStreamToChat:
    """Streamed GenerateContentResponses in, OpenAI chat.completion.chunk dicts out."""

    def __init__(
        self,
        model: str,
        chunk_id: str,
        include_usage: bool,
        tool_call_ids: Callable[[], str] | None = None,
    ) -> None:
        self._model = model
        self._id = chunk_id
        self._include_usage = include_usage
        self._new_id = tool_call_ids or _new_call_id
        self._created = int(time.time())
        self._started: set[int] = set()
        self._calls: dict[int, int] = {}
        self._usage: Json | None = None

    @property
    def usage(self) -> tuple[int, int] | None:
        """(prompt, completion) tokens from the latest usageMetadata, None before any."""
        if self._usage is None:
            return None
        return self._usage["prompt_tokens"], self._usage["completion_tokens"]

    def feed(self, resp: Json) -> list[Json]:
        """The chunks for one streamed GenerateContentResponse."""
        usage = _usage(resp.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        if _blocked(resp):
            return [self._chunk(0, {}, "content_filter")]
        chunks: list[Json] = []
        for position, candidate in enumerate(resp.get("candidates") or ()):
            index = candidate.get("index", position)
            text, calls = _output(candidate, self._new_id)
            delta: Json = {"content": text} if text else {}
            if calls:
                sent = self._calls.get(index, 0)
                delta["tool_calls"] = [{"index": sent + k, **call} for k, call in enumerate(calls)]
                self._calls[index] = sent + len(calls)
            reason = candidate.get("finishReason")
            finish = _finish_reason(reason, index in self._calls) if reason else None
            if delta or finish or index not in self._started:
                chunks.append(self._chunk(index, delta, finish))
        return chunks

    def finish(self) -> list[Json]:
        """The trailing usage chunk, when the client asked for usage and the upstream sent it."""
        if not self._include_usage or self._usage is None:
            return []
        return [{**self._envelope([]), "usage": self._usage}]

    def _chunk(self, index: int, delta: Json, finish: str | None) -> Json:
        """One chunk for one choice; the choice's first delta carries the role."""
        if index not in self._started:
            self._started.add(index)
            delta = {"role": "assistant", **delta}
        choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = self._envelope([choice])
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _envelope(self, choices: list[Json]) -> Json:
        """The fields every chunk of this stream shares."""
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }


def gemini_error_message(body: Json) -> str | None:
    """`error.message` of a Gemini error body, None when the body is not one."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None

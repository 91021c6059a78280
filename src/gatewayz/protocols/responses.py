"""OpenAI Responses API served by a chat completions upstream: request, response, stream.

The gateway stores nothing and runs no tools of its own, so whatever needs stored state
(previous_response_id, conversation, store, background, item references) or OpenAI's
built-in tools is refused with the field named, never dropped.
"""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.json_body import decode_object

Json = dict[str, Any]

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
# Optional request fields a Response repeats when they were given.
_ECHOED = (
    "max_tool_calls",
    "reasoning",
    "service_tier",
    "user",
    "safety_identifier",
    "prompt_cache_key",
)
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_IMAGE_DETAIL = frozenset({"auto", "low", "high"})


# --- the request -------------------------------------------------------------------------


def parse_request(raw: bytes) -> Json:
    """Decode a CreateResponse body and check what every route relies on, native or not."""
    body = decode_object(raw)
    _check_basics(body)
    return body


def responses_to_chat_request(body: Json) -> Json:
    """The chat completion request for a CreateResponse body; InvalidRequest for the rest."""
    _check_basics(body)
    _check_fields(body)
    messages = (
        [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    )
    chat: Json = {"model": body["model"], "messages": messages + _messages(body.get("input"))}
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
    limit = body.get("max_output_tokens")
    if limit is not None and (not _is(limit, int) or limit < 1):
        raise InvalidRequest(
            "'max_output_tokens' must be a positive integer.", param="max_output_tokens"
        )


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


def _only(obj: Json, allowed: frozenset[str], where: str) -> None:
    """Refuse every field of obj outside allowed that is set."""
    for key, value in obj.items():
        if key not in allowed and value is not None:
            raise InvalidRequest(
                f"'{where}.{key}' cannot be sent to a chat completions model.",
                param=f"{where}.{key}",
            )


def _string(obj: Json, key: str, where: str) -> str:
    """obj[key], which must be a string."""
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{where}.{key}' must be a string.", param=f"{where}.{key}")
    return value


def _object(value: Any, where: str) -> Json:
    """value, which must be a JSON object."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{where}' must be an object.", param=where)
    return value


def _messages(input_: Any) -> list[Json]:
    """Chat messages for the `input` string or item list."""
    if isinstance(input_, str):
        return [{"role": "user", "content": input_}]
    if not isinstance(input_, list) or not input_:
        raise InvalidRequest("'input' must be a string or a non-empty array.", param="input")
    messages: list[Json] = []
    for i, raw in enumerate(input_):
        where = f"input[{i}]"
        item = _object(raw, where)
        kind = item.get("type") or "message"
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            _only(item, frozenset({"type", "id", "status", "call_id", "name", "arguments"}), where)
            call = {
                "id": _string(item, "call_id", where),
                "type": "function",
                "function": {
                    "name": _string(item, "name", where),
                    "arguments": _string(item, "arguments", where),
                },
            }
            last = messages[-1] if messages else {}
            if last.get("role") == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            _only(item, frozenset({"type", "id", "status", "call_id", "output"}), where)
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": _string(item, "call_id", where),
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
    return messages


def _message(item: Json, where: str) -> Json:
    """A chat message for a message input item."""
    _only(item, frozenset({"type", "id", "status", "role", "content"}), where)
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
        _part(role, _object(part, f"{where}[{j}]"), f"{where}[{j}]") for j, part in enumerate(parts)
    ]


def _part(role: str, part: Json, where: str) -> Json:
    """One chat content part; which part types a role may carry follows both APIs."""
    kind = part.get("type")
    if role == "assistant" and kind == "output_text":
        _only(part, frozenset({"type", "text", "annotations", "logprobs"}), where)
        return {"type": "text", "text": _string(part, "text", where)}
    if role == "assistant" and kind == "refusal":
        _only(part, frozenset({"type", "refusal"}), where)
        return {"type": "refusal", "refusal": _string(part, "refusal", where)}
    if role != "assistant" and kind == "input_text":
        _only(part, frozenset({"type", "text"}), where)
        return {"type": "text", "text": _string(part, "text", where)}
    if role == "user" and kind == "input_image":
        _only(part, frozenset({"type", "image_url", "detail"}), where)
        image = {"url": _string(part, "image_url", where)}
        detail = part.get("detail")
        if detail is not None and detail not in _IMAGE_DETAIL:
            raise InvalidRequest(
                f"'{where}.detail' must be one of auto, low, high.", param=f"{where}.detail"
            )
        return {"type": "image_url", "image_url": image | ({"detail": detail} if detail else {})}
    if role == "user" and kind == "input_file":
        _only(part, frozenset({"type", "file_data", "filename"}), where)
        file = {"file_data": _string(part, "file_data", where)}
        if part.get("filename") is not None:
            file["filename"] = _string(part, "filename", where)
        return {"type": "file", "file": file}
    raise InvalidRequest(
        f"A '{role}' message cannot carry a '{kind}' content part.", param=f"{where}.type"
    )


def _tool(raw: Any, where: str) -> Json:
    """A chat function tool for a Responses function tool; built-in tools are refused."""
    tool = _object(raw, where)
    kind = tool.get("type")
    if kind != "function":
        raise InvalidRequest(
            f"Tools of type '{kind}' run inside OpenAI; a chat completions model can only call "
            "function tools.",
            param=f"{where}.type",
        )
    _only(tool, frozenset({"type", "name", "description", "parameters", "strict"}), where)
    function = {"name": _string(tool, "name", where)}
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
        _only(choice, frozenset({"type", "name"}), "tool_choice")
        return {"type": "function", "function": {"name": _string(choice, "name", "tool_choice")}}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        _only(choice, frozenset({"type", "mode", "tools"}), "tool_choice")
        if choice.get("mode") not in ("auto", "required"):
            raise InvalidRequest(
                "'tool_choice.mode' must be auto or required.", param="tool_choice.mode"
            )
        allowed = choice.get("tools")
        if not isinstance(allowed, list):
            raise InvalidRequest("'tool_choice.tools' must be an array.", param="tool_choice.tools")
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
    _only(text, frozenset({"format", "verbosity"}), "text")
    out: Json = {"verbosity": text["verbosity"]} if text.get("verbosity") is not None else {}
    fmt = _object(text.get("format") or {"type": "text"}, "text.format")
    kind = fmt.get("type")
    if kind == "json_object":
        _only(fmt, frozenset({"type"}), "text.format")
        out["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        _only(fmt, frozenset({"type", "name", "schema", "description", "strict"}), "text.format")
        schema = {"name": _string(fmt, "name", "text.format")}
        schema["schema"] = _object(fmt.get("schema"), "text.format.schema")
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
    _only(reasoning, frozenset({"effort"}), "reasoning")
    effort = reasoning.get("effort")
    return {"reasoning_effort": effort} if effort is not None else {}


# --- the response ------------------------------------------------------------------------


def chat_to_response(chat: Json, request: Json, response_id: str, created_at: int) -> Json:
    """The Response object for a chat.completion answering `request`."""
    choices = chat.get("choices") or [{}]
    message = choices[0].get("message") or {}
    status, reason = _status(choices[0].get("finish_reason"))
    item_status = "incomplete" if reason else "completed"
    calls = message.get("tool_calls") or []
    output = []
    text, refusal = message.get("content"), message.get("refusal")
    if text or refusal or not calls:
        parts = [_content("output_text", text)] if text or not refusal else []
        parts += [_content("refusal", refusal)] if refusal else []
        output.append(_message_item(_message_id(response_id), parts, item_status))
    for n, call in enumerate(calls):
        function = call.get("function") or {}
        output.append(
            _call_item(
                _call_ids(response_id, n, call.get("id")),
                function.get("name") or "",
                function.get("arguments") or "",
                item_status,
            )
        )
    usage = _usage(chat.get("usage"))
    return _response(request, response_id, created_at, status, output, usage, reason)


def _status(finish_reason: str | None) -> tuple[str, str | None]:
    """The Response status and incomplete reason for a chat finish_reason."""
    if finish_reason == "length":
        return "incomplete", "max_output_tokens"
    if finish_reason == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


def _message_id(response_id: str) -> str:
    """The id of the one message item of a response."""
    return "msg_" + response_id.removeprefix("resp_")


def _call_ids(response_id: str, n: int, call_id: str | None) -> tuple[str, str]:
    """The item id and call id of the n-th function call (the upstream's id when it sent one)."""
    suffix = response_id.removeprefix("resp_")
    return f"fc_{suffix}_{n}", call_id or f"call_{suffix}_{n}"


def _content(kind: str, text: str | None) -> Json:
    """An output_text or refusal content part."""
    if kind == "refusal":
        return {"type": "refusal", "refusal": text or ""}
    return {"type": "output_text", "text": text or "", "annotations": [], "logprobs": []}


def _message_item(item_id: str, parts: list[Json], status: str) -> Json:
    """An assistant message output item."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": parts,
    }


def _call_item(ids: tuple[str, str], name: str, arguments: str, status: str) -> Json:
    """A function_call output item."""
    return {
        "id": ids[0],
        "type": "function_call",
        "status": status,
        "call_id": ids[1],
        "name": name,
        "arguments": arguments,
    }


def _usage(usage: Any) -> Json | None:
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


def _response(
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
        "tools": [
            {
                "type": "function",
                "name": tool["name"],
                "description": tool.get("description"),
                "parameters": tool.get("parameters"),
                "strict": tool.get("strict"),
            }
            for tool in request.get("tools") or []
        ],
        "top_p": _given(request, "top_p", 1.0),
        "truncation": "disabled",
        "metadata": request.get("metadata") or {},
        **{key: request[key] for key in _ECHOED if request.get(key) is not None},
        **({"usage": usage} if usage else {}),
    }


def _given(request: Json, key: str, default: Any) -> Any:
    """request[key], or the spec's default when it is absent or null."""
    value = request.get(key)
    return default if value is None else value


# --- the stream --------------------------------------------------------------------------


class ChatStreamToResponses:
    """Responses stream events for a chat.completion.chunk stream, one chunk at a time.

    Items stay open until `finish`, since a chat stream only says a tool call is complete
    when it ends. The caller turns an upstream error into `fail`. The opening events come
    first whichever method is called first.
    """

    def __init__(self, request: Json, response_id: str, created_at: int) -> None:
        self._request = request
        self._id = response_id
        self._created_at = created_at
        self._sequence = 0
        self._started = False
        self._order: list[int | None] = []  # per output_index: a tool call index, None: message
        self._parts: dict[str, list[str]] = {}  # message content parts in order: kind -> text
        self._calls: dict[int, Json] = {}  # chat tool-call index -> the call so far
        self._finish_reason: str | None = None
        self._usage: Json | None = None

    def start(self) -> list[Json]:
        """response.created and response.in_progress, the first time only."""
        if self._started:
            return []
        self._started = True
        response = self._snapshot("in_progress", [])
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def feed(self, chunk: Json) -> list[Json]:
        """The events for one chat.completion.chunk."""
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        events = self.start()
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            for kind, key in (("output_text", "content"), ("refusal", "refusal")):
                if delta.get(key):
                    events += self._text(kind, delta[key])
            for call in delta.get("tool_calls") or []:
                events += self._call(call)
            self._finish_reason = choice.get("finish_reason") or self._finish_reason
        return events

    def finish(self) -> list[Json]:
        """The *.done events, then response.completed (or .incomplete) with the full Response."""
        events = self.start()
        if not self._order:  # an empty answer is still one (empty) message
            events += self._open_message() + self._open_part("output_text")
        status, reason = _status(self._finish_reason)
        output = self._output("incomplete" if reason else "completed")
        for output_index, item in enumerate(output):
            events += self._done(output_index, item)
        response = self._snapshot(status, output, reason)
        return [*events, self._event(f"response.{status}", response=response)]

    def fail(self, message: str) -> list[Json]:
        """response.failed for an upstream that broke off mid-stream."""
        events = self.start()
        error = {"code": "server_error", "message": message}
        response = self._snapshot("failed", self._output("incomplete"), error=error)
        return [*events, self._event("response.failed", response=response)]

    def _event(self, kind: str, **fields: Any) -> Json:
        """An event with the next sequence number."""
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(
        self, status: str, output: list[Json], reason: str | None = None, error: Json | None = None
    ) -> Json:
        """The Response as it stands."""
        usage = _usage(self._usage) if status != "in_progress" else None
        return _response(
            self._request, self._id, self._created_at, status, output, usage, reason, error
        )

    def _text(self, kind: str, delta: str) -> list[Json]:
        """A text or refusal delta, opening the message and its part first if needed."""
        events = [] if None in self._order else self._open_message()
        if kind not in self._parts:
            events += self._open_part(kind)
        self._parts[kind].append(delta)
        event = "response.output_text.delta" if kind == "output_text" else "response.refusal.delta"
        extra = {"logprobs": []} if kind == "output_text" else {}
        return [*events, self._event(event, **self._where(kind), delta=delta, **extra)]

    def _open_message(self) -> list[Json]:
        """output_item.added for the message."""
        self._order.append(None)
        item = _message_item(_message_id(self._id), [], "in_progress")
        return [
            self._event("response.output_item.added", output_index=len(self._order) - 1, item=item)
        ]

    def _open_part(self, kind: str) -> list[Json]:
        """content_part.added for a new part of the message."""
        self._parts[kind] = []
        part = _content(kind, "")
        return [self._event("response.content_part.added", **self._where(kind), part=part)]

    def _where(self, kind: str) -> Json:
        """item_id, output_index and content_index of a message part."""
        return {
            "item_id": _message_id(self._id),
            "output_index": self._order.index(None),
            "content_index": list(self._parts).index(kind),
        }

    def _call(self, fragment: Json) -> list[Json]:
        """A tool call fragment: output_item.added the first time, then its arguments."""
        index = fragment.get("index", 0)
        function = fragment.get("function") or {}
        events = []
        call = self._calls.get(index)
        if call is None:
            call = {
                "ids": _call_ids(self._id, len(self._calls), fragment.get("id")),
                "name": function.get("name") or "",
                "arguments": [],
                "output_index": len(self._order),
            }
            self._calls[index] = call
            self._order.append(index)
            item = _call_item(call["ids"], call["name"], "", "in_progress")
            events.append(
                self._event(
                    "response.output_item.added", output_index=call["output_index"], item=item
                )
            )
        call["name"] = call["name"] or function.get("name") or ""
        if function.get("arguments"):
            call["arguments"].append(function["arguments"])
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call["ids"][0],
                    output_index=call["output_index"],
                    delta=function["arguments"],
                )
            )
        return events

    def _output(self, status: str) -> list[Json]:
        """The output items as they stand, in output_index order."""
        items = []
        for index in self._order:
            if index is None:
                parts = [_content(kind, "".join(text)) for kind, text in self._parts.items()]
                items.append(_message_item(_message_id(self._id), parts, status))
            else:
                call = self._calls[index]
                arguments = "".join(call["arguments"])
                items.append(_call_item(call["ids"], call["name"], arguments, status))
        return items

    def _done(self, output_index: int, item: Json) -> list[Json]:
        """The *.done events closing one output item."""
        events = []
        if item["type"] == "function_call":
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=output_index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        for content_index, part in enumerate(item.get("content", [])):
            where = {
                "item_id": item["id"],
                "output_index": output_index,
                "content_index": content_index,
            }
            if part["type"] == "output_text":
                events.append(
                    self._event(
                        "response.output_text.done", **where, text=part["text"], logprobs=[]
                    )
                )
            else:
                events.append(
                    self._event("response.refusal.done", **where, refusal=part["refusal"])
                )
            events.append(self._event("response.content_part.done", **where, part=part))
        events.append(
            self._event("response.output_item.done", output_index=output_index, item=item)
        )
        return events

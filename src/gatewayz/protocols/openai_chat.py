"""OpenAI Chat Completions: request checks, the upstream request, stream event handling."""

from collections.abc import Iterator
from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.json_body import MAX_CHOICES, MAX_OUTPUT_TOKENS, bounded_int, decode_object
from gatewayz.protocols.usage import Usage, UsageTally, from_openai

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def parse_request(raw: bytes) -> dict[str, Any]:
    """Decode and check a chat completion request; unknown fields are kept as they are."""
    body = decode_object(raw)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise InvalidRequest(
                f"messages[{i}] must be an object with a role of {', '.join(sorted(_ROLES))}.",
                param=f"messages.{i}.role",
            )
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    for field in ("max_tokens", "max_completion_tokens"):
        bounded_int(body, field, MAX_OUTPUT_TOKENS)
    bounded_int(body, "n", MAX_CHOICES)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    return body


def requested_output_limit(body: dict[str, Any]) -> int | None:
    """The output limit the client asked for; with both fields, the smaller (the gateway sends
    and holds that one: an answer within it keeps both limits)."""
    limits = [body[f] for f in ("max_tokens", "max_completion_tokens") if body.get(f) is not None]
    return min(limits) if limits else None


def wants_stream_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return bool(isinstance(options, dict) and options.get("include_usage"))


def upstream_request(
    body: dict[str, Any], model_id: str, quirks: frozenset[str], output_limit: int
) -> dict[str, Any]:
    """The body to send upstream: the provider's model id, usage asked for in streams, and
    `output_limit` (the one held) as the only limit: in `max_completion_tokens` when the client
    used that field or the provider wants it (quirk), else in `max_tokens`."""
    out = dict(body)
    out["model"] = model_id
    if out.get("stream") and "no_stream_options" not in quirks:
        out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    elif "no_stream_options" in quirks:
        out.pop("stream_options", None)
    completion = "max_completion_tokens" in quirks or body.get("max_completion_tokens") is not None
    out.pop("max_tokens", None)
    out.pop("max_completion_tokens", None)
    out["max_completion_tokens" if completion else "max_tokens"] = output_limit
    return out


class UpstreamStreamError(Exception):
    """The upstream sent an error object in the middle of a stream."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_chunk(data: bytes) -> dict[str, Any]:
    """A chat.completion.chunk; ValueError if it is not one, UpstreamStreamError for an
    error event."""
    chunk = orjson.loads(data)
    if not isinstance(chunk, dict):
        raise ValueError("stream chunk is not a JSON object")
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise UpstreamStreamError(str(message or error))
    return chunk


_TEXT_FIELDS = ("content", "reasoning_content", "reasoning", "refusal")


def generated_texts(part: Any) -> Iterator[Any]:
    """The generated text of one message or delta: answer text, reasoning (the
    `reasoning_content` or `reasoning` of OpenAI-compatible upstreams), refusal, and each tool
    call's name and arguments. Items may be None or not strings: count only strings."""
    if not isinstance(part, dict):
        return
    for name in _TEXT_FIELDS:
        yield part.get(name)
    calls = part.get("tool_calls")
    functions = (
        [call.get("function") for call in calls if isinstance(call, dict)]
        if isinstance(calls, list)
        else []
    )
    functions.append(part.get("function_call"))  # the deprecated functions API
    for function in functions:
        if isinstance(function, dict):
            yield function.get("name")
            yield function.get("arguments")


def tally_chunk(chunk: dict[str, Any], tally: UsageTally) -> Usage | None:
    """Note every piece of generated text in a chunk's deltas (each choice's), then its usage
    if it reports any (which covers the text before it); returns that usage."""
    return _tally(chunk, "delta", tally)


def tally_reply(reply: dict[str, Any], tally: UsageTally) -> Usage | None:
    """Note the generated text of each choice of a chat completion, then its usage."""
    return _tally(reply, "message", tally)


def _tally(data: dict[str, Any], part: str, tally: UsageTally) -> Usage | None:
    choices = data.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if isinstance(choice, dict):
            for text in generated_texts(choice.get(part)):
                tally.saw(text)
    usage = from_openai(data.get("usage"))
    if usage is not None:
        tally.report(usage)
    return usage


def read_stream_event(
    data: bytes | dict[str, Any], client_wants_usage: bool, tally: UsageTally
) -> tuple[bytes | None, dict[str, Any]]:
    """One upstream chunk, as it came or decoded already (translated from another format):
    what to forward (None to drop), and the chunk decoded. Its usage and generated text are
    noted in `tally` (for an estimate when usage never comes).

    The gateway always asks the upstream for usage; a usage-only chunk is dropped again
    when the client did not ask for it, and usage riding on a content chunk is removed.
    Raises ValueError for a chunk that is not a JSON object, UpstreamStreamError for an
    error event.
    """
    chunk = data if isinstance(data, dict) else decode_chunk(data)
    if tally_chunk(chunk, tally) is None or client_wants_usage:
        return (orjson.dumps(chunk) if isinstance(data, dict) else data), chunk
    if not chunk.get("choices"):
        return None, chunk
    chunk.pop("usage", None)
    return orjson.dumps(chunk), chunk


def error_event(error: dict[str, Any]) -> bytes:
    """A mid-stream error as the OpenAI SDK raises it."""
    return b"data: " + orjson.dumps(error) + b"\n\n"

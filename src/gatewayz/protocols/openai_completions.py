"""OpenAI legacy text completions (`POST /v1/completions`): request checks, the upstream
request, and the usage and generated text of answers and stream chunks.

A request makes `n` completions of each of its prompts (a string, or a token array, is one
prompt; an array of strings or of token arrays is one per item), `best_of` of them generated
when it is larger (the upstream returns the best `n` and bills all). Without `max_tokens` the
API writes at most 16 tokens: the gateway sends and holds that default explicitly.
"""

from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.json_body import MAX_CHOICES, MAX_OUTPUT_TOKENS, bounded_int, decode_object
from gatewayz.protocols.openai_chat import decode_chunk
from gatewayz.protocols.usage import Usage, UsageTally, from_openai

DEFAULT_MAX_TOKENS = 16  # the API's documented default for `max_tokens`


def parse_request(raw: bytes) -> dict[str, Any]:
    """Decode and check a completion request; unknown fields are kept as they are."""
    body = decode_object(raw)
    if _prompts(body.get("prompt")) is None:
        raise InvalidRequest(
            "'prompt' must be a string, an array of strings, an array of token ids or an "
            "array of token id arrays.",
            param="prompt",
        )
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    bounded_int(body, "max_tokens", MAX_OUTPUT_TOKENS)
    for field in ("n", "best_of"):
        bounded_int(body, field, MAX_CHOICES)
    if body.get("best_of") is not None and body["best_of"] < (body.get("n") or 1):
        raise InvalidRequest("'best_of' must be at least 'n'.", param="best_of")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    return body


def _prompts(prompt: Any) -> int | None:
    """How many prompts `prompt` holds, None when it is none of the accepted shapes."""
    if isinstance(prompt, str):
        return 1
    if not isinstance(prompt, list) or not prompt:
        return None
    if all(isinstance(item, str) for item in prompt):
        return len(prompt)
    if all(_token_ids(item) for item in prompt):
        return len(prompt)
    return 1 if _token_ids(prompt) else None


def _token_ids(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    )


def completions_generated(body: dict[str, Any]) -> int:
    """The completions the upstream generates, and bills: per prompt, the larger of `n` and
    `best_of`."""
    prompts = _prompts(body.get("prompt")) or 1
    return prompts * max(body.get("n") or 1, body.get("best_of") or 1)


def upstream_request(
    body: dict[str, Any], model_id: str, quirks: frozenset[str], output_limit: int
) -> dict[str, Any]:
    """The body to send upstream: the provider's model id, `output_limit` (the one held) in
    `max_tokens`, and usage asked for in streams."""
    out = {**body, "model": model_id, "max_tokens": output_limit}
    if "no_stream_options" in quirks:
        out.pop("stream_options", None)
    elif out.get("stream"):
        out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return out


def tally(data: dict[str, Any], seen: UsageTally) -> Usage | None:
    """Note each choice's generated text (of an answer or a chunk), then the usage reported,
    which covers the text before it; returns that usage."""
    choices = data.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if isinstance(choice, dict):
            seen.saw(choice.get("text"))
    usage = from_openai(data.get("usage"))
    if usage is not None:
        seen.report(usage)
    return usage


def read_stream_event(data: bytes, client_wants_usage: bool, seen: UsageTally) -> bytes | None:
    """One upstream `text_completion` chunk: what to forward (None to drop). As for chat, the
    usage the gateway asked for is dropped again when the client did not ask for it."""
    chunk = decode_chunk(data)
    if tally(chunk, seen) is None or client_wants_usage:
        return data
    if not chunk.get("choices"):
        return None
    chunk.pop("usage", None)
    return orjson.dumps(chunk)

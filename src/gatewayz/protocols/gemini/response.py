"""A Gemini GenerateContentResponse as an OpenAI chat.completion, and Gemini error bodies.

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

from gatewayz.protocols.checks import Json
from gatewayz.protocols.gemini.call_ids import new_call_id, with_signature

# fmt: off
_FILTERED = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
})
# fmt: on


def finish_reason(reason: str, called: bool) -> str:
    """The OpenAI finish_reason for a Gemini finishReason (see the module docstring)."""
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def candidate_output(candidate: Json, new_id: Callable[[], str]) -> tuple[str | None, list[Json]]:
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
                call_id = with_signature(call_id, part["thoughtSignature"])
            arguments = orjson.dumps(call.get("args") or {}).decode()
            function = {"name": call.get("name", ""), "arguments": arguments}
            calls.append({"id": call_id, "type": "function", "function": function})
    return ("".join(texts) if texts else None), calls


def candidate_thoughts(candidate: Json) -> str | None:
    """The text of a candidate's thought parts (sent when thoughts are asked for), or None."""
    parts = (candidate.get("content") or {}).get("parts") or ()
    thoughts = [p["text"] for p in parts if p.get("thought") and isinstance(p.get("text"), str)]
    return "".join(thoughts) or None


def chat_usage(meta: Any) -> Json | None:
    """OpenAI usage for a usageMetadata (thinking tokens count as completion tokens, and the
    prompt of tool use as prompt tokens). `cachedContentTokenCount` is inside
    `promptTokenCount`, as `cached_tokens` is inside `prompt_tokens`; Gemini reports no cache
    writes (it bills none per call)."""
    if not isinstance(meta, dict):
        return None
    prompt = meta.get("promptTokenCount", 0) + meta.get("toolUsePromptTokenCount", 0)
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


def prompt_blocked(resp: Json) -> bool:
    """Whether the prompt itself was blocked (promptFeedback.blockReason, no candidates)."""
    return not resp.get("candidates") and bool(
        (resp.get("promptFeedback") or {}).get("blockReason")
    )


def gemini_to_chat_response(
    resp: Json,
    model: str,
    tool_call_ids: Callable[[], str] | None = None,
    single_call: bool = False,
) -> Json:
    """The OpenAI chat.completion for a GenerateContentResponse; with `single_call` (the
    client's `parallel_tool_calls: false`), each choice keeps its first function call only."""
    new_id = tool_call_ids or new_call_id
    choices: list[Json] = []
    for position, candidate in enumerate(resp.get("candidates") or ()):
        text, calls = candidate_output(candidate, new_id)
        if single_call:
            calls = calls[:1]
        message: Json = {"role": "assistant", "content": text, "refusal": None}
        thoughts = candidate_thoughts(candidate)
        if thoughts:  # as OpenAI-compatible reasoning models answer it
            message["reasoning_content"] = thoughts
        if calls:
            message["tool_calls"] = calls
        reason = finish_reason(candidate.get("finishReason", "STOP"), bool(calls))
        index = candidate.get("index", position)
        choices.append({"index": index, "message": message, "finish_reason": reason})
    if not choices:
        reason = "content_filter" if prompt_blocked(resp) else "stop"
        message = {"role": "assistant", "content": None, "refusal": None}
        choices.append({"index": 0, "message": message, "finish_reason": reason})
    out: Json = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{**choice, "logprobs": None} for choice in choices],
    }
    usage = chat_usage(resp.get("usageMetadata"))
    if usage is not None:
        out["usage"] = usage
    return out


def gemini_error_message(body: Json) -> str | None:
    """`error.message` of a Gemini error body, None when the body is not one."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None

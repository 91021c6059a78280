"""Whole replies both ways: an OpenAI chat.completion as an Anthropic Message and back, with
the stop reasons and token usage the streams report the same way."""

import json
import time
import uuid
from typing import Any

from gatewayz.protocols.anthropic.common import tool_input, upstream
from gatewayz.protocols.anthropic.signature import Reasoning, sign
from gatewayz.protocols.checks import Json
from gatewayz.protocols.usage import Usage, from_anthropic, from_openai

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


# --- OpenAI chat response -> Anthropic Message -------------------------------------------


def stop_reason(finish: Any, called_tools: bool) -> str:
    """The Anthropic stop_reason for an OpenAI finish_reason."""
    reason = _STOP_REASONS.get(finish, "end_turn")
    return "tool_use" if called_tools and reason == "end_turn" else reason


def reasoning_field(message: Json) -> str | None:
    """Which field of a chat message or delta carries reasoning (`reasoning_content`, as
    DeepSeek and vLLM send it, else `reasoning`, as OpenRouter does), None if none does."""
    for field in ("reasoning_content", "reasoning"):
        if isinstance(message.get(field), str) and message[field]:
            return field
    return None


def chat_to_messages_response(
    chat: Json, model: str, provider: str = "", show_thinking: bool = True
) -> Json:
    """An OpenAI chat.completion as an Anthropic Message; its reasoning as a thinking block
    signed by the gateway for `provider` (see protocols.anthropic.signature), without its
    text unless `show_thinking`."""
    choices = upstream(chat, "completion").get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError("upstream completion has no choices")
    choice = upstream(choices[0], "choice")
    message = upstream(choice.get("message"), "message")
    content: list[Json] = []
    field = reasoning_field(message)
    if field is not None:
        text = message[field]
        signature = sign(Reasoning(provider, field, text))
        thinking = text if show_thinking else ""
        content.append({"type": "thinking", "thinking": thinking, "signature": signature})
    content += [
        {"type": "text", "text": text}
        for text in (message.get("content"), message.get("refusal"))
        if isinstance(text, str) and text
    ]
    for call in message.get("tool_calls") or []:
        function = upstream(upstream(call, "tool call").get("function"), "function")
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or f"toolu_{uuid.uuid4().hex}"),
                "name": str(function.get("name")),
                "input": tool_input(function.get("arguments")),
            }
        )
    called = any(block["type"] == "tool_use" for block in content)
    return {
        "id": _message_id(chat.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), called),
        "stop_sequence": None,
        "usage": anthropic_usage(chat.get("usage")),
    }


def _message_id(chat_id: Any) -> str:
    if isinstance(chat_id, str) and chat_id:
        return "msg_" + chat_id.removeprefix("chatcmpl-")
    return f"msg_{uuid.uuid4().hex}"


def _cached_tokens(usage: Json) -> int | None:
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if not isinstance(cached, int):  # DeepSeek reports its cache hits at the top level
        cached = usage.get("prompt_cache_hit_tokens")
    return cached if isinstance(cached, int) else None


def anthropic_usage(usage: Any) -> Json:
    """OpenAI usage in Anthropic terms. OpenAI counts the tokens read from the cache (and, in
    OpenRouter's `cache_write_tokens`, written to it) inside prompt_tokens; Anthropic reports
    them beside input_tokens, the writes split by how long they are kept."""
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0}
    prompt: int = usage["prompt_tokens"] if isinstance(usage.get("prompt_tokens"), int) else 0
    output = usage.get("completion_tokens")
    out: Json = {"input_tokens": prompt, "output_tokens": output if isinstance(output, int) else 0}
    cached = _cached_tokens(usage)
    if cached is not None:
        out["cache_read_input_tokens"] = cached
    parsed = from_openai({"completion_tokens": 0, **usage, "prompt_tokens": prompt})
    written = parsed.cache_write_tokens if parsed is not None else 0
    if written:
        hour = parsed.cache_write_1h_tokens if parsed is not None else 0
        out["cache_creation_input_tokens"] = written
        split = {"ephemeral_5m_input_tokens": written - hour, "ephemeral_1h_input_tokens": hour}
        out["cache_creation"] = split
    out["input_tokens"] = max(prompt - (cached or 0) - written, 0)
    return out


# --- Anthropic Message -> OpenAI chat.completion -----------------------------------------


def messages_to_chat_response(
    message: Json, request_model: str, json_tool: str | None = None
) -> Json:
    """An Anthropic Message as an OpenAI chat.completion: thinking as `reasoning_content`
    (as OpenAI-compatible reasoning models send it; signatures and redacted thinking have no
    place there), and the call of `json_tool` (JSON mode, see protocols.anthropic.json_mode)
    as the answer's text."""
    content = upstream(message, "message").get("content")
    if not isinstance(content, list):
        raise ValueError("upstream message has no content array")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[Json] = []
    answered = False  # by the JSON mode tool
    for raw in content:
        block = upstream(raw, "content block")
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "thinking" and block.get("thinking"):
            thoughts.append(str(block["thinking"]))
        elif block.get("type") == "tool_use" and json_tool and block.get("name") == json_tool:
            texts.append(json.dumps(block.get("input") or {}, ensure_ascii=False))
            answered = True
        elif block.get("type") == "tool_use":
            calls.append(_openai_tool_call(block))
    reply: Json = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if thoughts:
        reply["reasoning_content"] = "".join(thoughts)
    if calls:
        reply["tool_calls"] = calls
    finish = FINISH_REASONS.get(str(message.get("stop_reason")), "stop")
    choice = {
        "index": 0,
        "message": reply,
        "logprobs": None,
        "finish_reason": "stop" if finish == "tool_calls" and answered and not calls else finish,
    }
    return {
        "id": "chatcmpl-" + str(message.get("id") or uuid.uuid4().hex).removeprefix("msg_"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request_model,
        "choices": [choice],
        "usage": openai_usage(upstream(message.get("usage") or {}, "usage")),
    }


def _openai_tool_call(block: Json) -> Json:
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
    function = {"name": str(block.get("name")), "arguments": arguments}
    return {"id": str(block.get("id")), "type": "function", "function": function}


def token_counts(usage: Json) -> tuple[int, int, int]:
    """(prompt tokens including cache reads and writes, cache reads, output tokens)."""
    parsed = from_anthropic({"input_tokens": 0, **usage})
    if parsed is None:
        return 0, 0, 0
    return parsed.input_tokens, parsed.cache_read_tokens, parsed.output_tokens


def openai_usage(usage: Json) -> Json:
    """Anthropic usage in OpenAI terms: prompt_tokens includes the tokens read from the cache
    (`prompt_tokens_details.cached_tokens`) and written to it (`cache_write_tokens`, as
    OpenRouter reports them; `cache_write_1h_tokens` of them kept for an hour)."""
    parsed = from_anthropic({"input_tokens": 0, **usage}) or Usage(0, 0)
    prompt, output = parsed.input_tokens, parsed.output_tokens
    details: Json = {"cached_tokens": parsed.cache_read_tokens}
    if parsed.cache_write_tokens:
        details["cache_write_tokens"] = parsed.cache_write_tokens
    if parsed.cache_write_1h_tokens:
        details["cache_write_1h_tokens"] = parsed.cache_write_1h_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": details,
    }

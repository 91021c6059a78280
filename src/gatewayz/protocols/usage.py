"""Token usage as the gateway bills it."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    estimated: bool = False
    images: int = 0


def from_openai(usage: Any) -> Usage | None:
    """Usage from an OpenAI `usage` object, or None when absent or malformed."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens", 0)
    if (
        not isinstance(prompt, int)
        or not isinstance(completion, int)
        or prompt < 0
        or completion < 0
    ):
        return None
    return Usage(prompt, completion + _reasoning_beside(usage, prompt, completion))


def _reasoning_beside(usage: dict[str, Any], prompt: int, completion: int) -> int:
    """Reasoning tokens an upstream reports beside its completion tokens, not inside them.

    OpenAI counts reasoning in `completion_tokens` (`completion_tokens_details.reasoning_tokens`
    is part of it: not counted again); some OpenAI-compatible providers report it apart,
    which shows as more reasoning than completion tokens, or a `total_tokens` that adds it.
    """
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if not isinstance(reasoning, int) or reasoning <= 0:
        return 0
    total = usage.get("total_tokens")
    apart = isinstance(total, int) and total >= prompt + completion + reasoning
    return reasoning if apart or reasoning > completion else 0


def estimate(request_bytes: int, output_tokens: int) -> Usage:
    """A fallback when the upstream reported no usage: about four bytes of prompt per token."""
    return Usage(max(1, request_bytes // 4), output_tokens, estimated=True)


def from_anthropic(usage: Any) -> Usage | None:
    """Usage from an Anthropic `usage` object; cache reads and writes count as input."""
    if not isinstance(usage, dict) or not isinstance(usage.get("input_tokens"), int):
        return None
    cached = sum(
        usage.get(key) or 0
        for key in ("cache_read_input_tokens", "cache_creation_input_tokens")
        if isinstance(usage.get(key) or 0, int)
    )
    output = usage.get("output_tokens")
    return Usage(usage["input_tokens"] + cached, output if isinstance(output, int) else 0)


def from_responses(usage: Any) -> Usage | None:
    """Usage from a Responses API `usage` object."""
    if not isinstance(usage, dict):
        return None
    tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
        return None
    return Usage(tokens_in, tokens_out)

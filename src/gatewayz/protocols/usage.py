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
    return Usage(prompt, completion)


def estimate(request_bytes: int, output_tokens: int) -> Usage:
    """A fallback when the upstream reported no usage: about four bytes of prompt per token."""
    return Usage(max(1, request_bytes // 4), output_tokens, estimated=True)

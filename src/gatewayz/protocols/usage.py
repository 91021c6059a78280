"""Token usage as the gateway bills it, and the estimate used when an upstream never reports
it (a stream cut before its usage, an answer without any).

The estimate of output tokens is the larger of the number of pieces of generated text seen
(stream deltas: most upstreams send about one token per delta, some several) and their UTF-8
bytes / 4, rounded up (English runs about four characters a token; text in other scripts has
more bytes per character and more tokens per character too). Every kind of generated text
counts: answer text, reasoning, tool names and arguments, refusals. The input side is what the
upstream reported, else four bytes of request per token.
"""

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


@dataclass(slots=True)
class UsageTally:
    """What a call has shown of its cost so far: the usage the upstream last reported, whether
    that covers everything generated since (a stream's final usage does; the input side sent
    at its start, or usage followed by more text, does not), and the generated text seen."""

    reported: Usage | None = None
    complete: bool = False
    pieces: int = 0
    text_bytes: int = 0

    def report(self, usage: Usage, complete: bool = True) -> None:
        """Note the upstream's usage so far (complete: it covers all the text seen)."""
        self.reported, self.complete = usage, complete

    def saw(self, text: Any) -> None:
        """Count one piece of generated text (None and empty strings are not text)."""
        if isinstance(text, str) and text:
            self.pieces += 1
            self.text_bytes += len(text) if text.isascii() else len(text.encode())
            self.complete = False

    def usage(self, request_bytes: int) -> Usage:
        """The usage to bill: as reported when complete, else the estimate (see the module
        docstring), which keeps what the upstream had reported."""
        known = self.reported
        if known is not None and self.complete:
            return known
        output = max(self.pieces, -(-self.text_bytes // 4))
        if known is None:
            return estimate(request_bytes, output)
        return Usage(known.input_tokens, max(known.output_tokens, output), True, known.images)


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

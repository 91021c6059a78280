"""Token usage as the gateway bills it, and the estimate used when an upstream never reports
it (a stream cut before its usage, an answer without any).

Input tokens come in kinds priced apart (billing.money): tokens read from the provider's
prompt cache, tokens written to it (for five minutes, or for an hour on Anthropic), and the
rest. `Usage.input_tokens` counts them all, as the request log and rate limits do; the cache
counts are parts of it. Each format reports them its own way (checked in each provider's API
reference):

- OpenAI Chat Completions: `prompt_tokens_details.cached_tokens` is INSIDE `prompt_tokens`;
  OpenRouter adds `prompt_tokens_details.cache_write_tokens`, inside it too; DeepSeek reports
  `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens` = `prompt_tokens`. Translated usage
  inside the gateway also carries `prompt_tokens_details.cache_write_1h_tokens`, the part of
  the writes made for an hour.
- OpenAI Responses: `input_tokens_details.cached_tokens` and `.cache_write_tokens` are INSIDE
  `input_tokens`.
- Anthropic Messages: `cache_read_input_tokens` and `cache_creation_input_tokens` are BESIDE
  `input_tokens` (which counts only the tokens after the last cache breakpoint); the writes
  split into `cache_creation.ephemeral_5m_input_tokens` and `.ephemeral_1h_input_tokens`.
- Gemini: `cachedContentTokenCount` is INSIDE `promptTokenCount` (read in
  protocols.gemini.response); Gemini bills no writes per call (an explicit cache is created and
  stored through its own API; implicit caching writes for free).

The estimate of output tokens is the larger of the number of pieces of generated text seen
(stream deltas: most upstreams send about one token per delta, some several) and their UTF-8
bytes / 4, rounded up (English runs about four characters a token; text in other scripts has
more bytes per character and more tokens per character too). Every kind of generated text
counts: answer text, reasoning, tool names and arguments, refusals. The input side is what the
upstream reported, else four bytes of request per token.
"""

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """What a call used. `input_tokens` counts every input token, cached or not; of them,
    `cache_read_tokens` were read from the prompt cache and `cache_write_tokens` written to it,
    `cache_write_1h_tokens` of those for an hour (the rest for five minutes)."""

    input_tokens: int
    output_tokens: int
    estimated: bool = False
    images: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        """The input tokens neither read from nor written to the cache."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens


def _count(value: Any) -> int:
    """A token count as reported, 0 when absent or malformed."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def with_cache(
    input_tokens: int, output_tokens: int, read: int, written: int, written_1h: int = 0
) -> Usage:
    """Usage whose cache counts are parts of `input_tokens`. An upstream whose parts add up to
    more than its input total reported them beside it: the total becomes their sum, so every
    kind is charged as reported and none twice."""
    written_1h = min(written_1h, written)
    return Usage(
        max(input_tokens, read + written),
        output_tokens,
        cache_read_tokens=read,
        cache_write_tokens=written,
        cache_write_1h_tokens=written_1h,
    )


def from_openai(usage: Any) -> Usage | None:
    """Usage from an OpenAI `usage` object (cache counts inside prompt_tokens), or None when
    absent or malformed."""
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
    output = completion + _reasoning_beside(usage, prompt, completion)
    details = _dict(usage.get("prompt_tokens_details"))
    read = _count(details.get("cached_tokens")) or _count(usage.get("prompt_cache_hit_tokens"))
    written = _count(details.get("cache_write_tokens"))
    return with_cache(prompt, output, read, written, _count(details.get("cache_write_1h_tokens")))


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
        return replace(known, output_tokens=max(known.output_tokens, output), estimated=True)


def from_anthropic(usage: Any) -> Usage | None:
    """Usage from an Anthropic `usage` object: cache reads and writes are beside
    `input_tokens`, the writes' split by duration in `cache_creation`."""
    if not isinstance(usage, dict) or not isinstance(usage.get("input_tokens"), int):
        return None
    split = _dict(usage.get("cache_creation"))
    written_1h = _count(split.get("ephemeral_1h_input_tokens"))
    written = _count(usage.get("cache_creation_input_tokens")) or (
        _count(split.get("ephemeral_5m_input_tokens")) + written_1h
    )
    read = _count(usage.get("cache_read_input_tokens"))
    output = _count(usage.get("output_tokens"))
    return with_cache(
        _count(usage["input_tokens"]) + read + written, output, read, written, written_1h
    )


def from_responses(usage: Any) -> Usage | None:
    """Usage from a Responses API `usage` object (cache counts inside input_tokens)."""
    if not isinstance(usage, dict):
        return None
    tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
        return None
    details = _dict(usage.get("input_tokens_details"))
    read, written = _count(details.get("cached_tokens")), _count(details.get("cache_write_tokens"))
    return with_cache(tokens_in, tokens_out, read, written)

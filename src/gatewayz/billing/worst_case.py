"""The most a call can cost, held before it is sent: a bound on its input tokens plus `n` times
the output limit sent upstream, at the route's prices.

Input tokens are bounded by what the gateway sends: one token per byte of the request body
(no tokenizer makes more tokens than bytes of text), plus a fixed bound for every image, file
or audio part (their tokens do not follow their bytes: an image URL is a few dozen bytes) and
a fixed overhead when tools are declared (the tool-use instructions providers add), never more
than the model's context length when the catalog knows it. Output tokens are bounded by the
limit sent upstream, which includes reasoning and thinking tokens in every wire format
(OpenAI `max_completion_tokens`, Anthropic `max_tokens`, Gemini `maxOutputTokens`, Responses
`max_output_tokens`). The input bound is priced at the dearest price an input token can have:
a prompt-cache write can cost more than plain input (Anthropic: 1.25 times for five minutes,
twice for an hour), a cache read never does. An upstream that bills past that is charged in
full anyway and the excess is recorded as a shortfall (see billing.ledger.settle).
"""

from dataclasses import dataclass

from gatewayz.billing.money import bound_cost_units
from gatewayz.providers.spec import ModelSpec

# Tokens one image costs at its largest, as the providers document it:
# - OpenAI (platform.openai.com/docs/guides/images-vision, "Calculating costs"): tile-priced
#   models (GPT-4o, GPT-4.1, GPT-5) fit an image in 2048x2048 and its short side in 768 px,
#   at most 8 tiles of 170 tokens + 85 = 1,445 tokens; patch-priced models count at most 1,536
#   patches times a model multiplier of up to 2.46 (gpt-4.1-nano) = 3,779 tokens. gpt-4o-mini
#   counts 2,833 + 5,667 per tile (48,169 tokens at 1/33 of GPT-4o's price): serving it images,
#   raise the setting.
# - Anthropic (docs.anthropic.com/en/docs/build-with-claude/vision): an image is scaled down
#   to at most 1568 px on its long edge and about 1,600 tokens (width x height / 750).
# - Gemini (ai.google.dev/gemini-api/docs/tokens): 258 tokens per 768x768 tile (Gemini 2),
#   1,120 tokens per image at the default resolution of Gemini 3.
# 8,000 covers each of them (31 Gemini tiles) with room to spare.
IMAGE_INPUT_TOKENS = 8_000
# Anthropic adds a tool-use system prompt of 159 to 530 tokens depending on the model and the
# tool choice (docs.anthropic.com/en/docs/build-with-claude/tool-use, "Pricing"); OpenAI and
# Gemini add theirs without documenting its size.
TOOLS_INPUT_TOKENS = 1_000
# The balance and hold columns are 64-bit: no call can be held for more.
MAX_UNITS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Demand:
    """What a request asks of an upstream, as far as its cost goes: the bytes the gateway
    sends, the output limit the client asked for (None: none), the answers (`n`), and the
    media parts and tools in its input."""

    input_bytes: int
    output_limit: int | None = None
    choices: int = 1
    media_parts: int = 0
    tools: bool = False


@dataclass(frozen=True, slots=True)
class InputBounds:
    """Input tokens counted for what bytes do not bound (settings `image_input_tokens` and
    `tools_input_tokens`)."""

    image_tokens: int = IMAGE_INPUT_TOKENS
    tools_tokens: int = TOOLS_INPUT_TOKENS


def input_token_bound(model: ModelSpec, demand: Demand, bounds: InputBounds) -> int:
    """The most input tokens the request can be billed for on `model`."""
    tokens = demand.input_bytes + demand.media_parts * bounds.image_tokens
    if demand.tools:
        tokens += bounds.tools_tokens
    return min(tokens, model.context_length) if model.context_length else tokens


def worst_case_units(
    model: ModelSpec, demand: Demand, output_limit: int, bounds: InputBounds
) -> int:
    """The most the call can cost on `model` when `output_limit` is the limit sent upstream."""
    input_tokens = input_token_bound(model, demand, bounds)
    units = bound_cost_units(model, input_tokens, demand.choices * output_limit)
    return min(units, MAX_UNITS)

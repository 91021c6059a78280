"""The worst case of a call: a token per request byte, a bound per media part, an overhead for
declared tools, never more input than the context length, and `n` times the output limit."""

from decimal import Decimal

import pytest

from gatewayz.billing.worst_case import (
    IMAGE_INPUT_TOKENS,
    MAX_UNITS,
    TOOLS_INPUT_TOKENS,
    Demand,
    InputBounds,
    input_token_bound,
    worst_case_units,
)
from gatewayz.providers.spec import ModelSpec

# 2 credits per million input tokens (2,000 units a token), 8 per million output (8,000).
MODEL = ModelSpec(id="m", input_price_per_mtok=Decimal(2), output_price_per_mtok=Decimal(8))
BOUNDS = InputBounds()


def test_text_counts_a_token_per_byte_and_the_output_limit() -> None:
    assert worst_case_units(MODEL, Demand(500), 100, BOUNDS) == 500 * 2_000 + 100 * 8_000


def test_n_answers_multiply_the_output_limit_not_the_input() -> None:
    one = worst_case_units(MODEL, Demand(500, choices=1), 4096, BOUNDS)
    many = worst_case_units(MODEL, Demand(500, choices=64), 4096, BOUNDS)
    assert many - one == 63 * 4096 * 8_000


def test_each_media_part_and_declared_tools_add_their_bound() -> None:
    demand = Demand(500, media_parts=3, tools=True)
    assert input_token_bound(MODEL, demand, BOUNDS) == (
        500 + 3 * IMAGE_INPUT_TOKENS + TOOLS_INPUT_TOKENS
    )
    custom = InputBounds(image_tokens=50_000, tools_tokens=0)
    assert input_token_bound(MODEL, demand, custom) == 500 + 150_000


def test_the_documented_defaults() -> None:
    assert (IMAGE_INPUT_TOKENS, TOOLS_INPUT_TOKENS) == (8_000, 1_000)
    assert InputBounds(8_000, 1_000) == BOUNDS


def test_input_is_never_more_than_the_context_length() -> None:
    small = MODEL.model_copy(update={"context_length": 4_000})
    demand = Demand(10_000, media_parts=2)
    assert input_token_bound(small, demand, BOUNDS) == 4_000
    assert worst_case_units(small, demand, 10, BOUNDS) == 4_000 * 2_000 + 10 * 8_000
    assert input_token_bound(small, Demand(300), BOUNDS) == 300


def test_a_free_model_costs_nothing_at_worst() -> None:
    free = MODEL.model_copy(update={"input_price_per_mtok": 0, "output_price_per_mtok": 0})
    assert worst_case_units(free, Demand(10**6, choices=128), 10**7, BOUNDS) == 0


@pytest.mark.parametrize("price", [Decimal(8), Decimal(10**9)])
def test_the_worst_case_fits_the_64_bit_columns(price: Decimal) -> None:
    pricey = MODEL.model_copy(update={"output_price_per_mtok": price})
    units = worst_case_units(pricey, Demand(10**9, choices=128), 10**7, BOUNDS)
    assert 0 < units <= MAX_UNITS == 2**63 - 1


def test_the_input_bound_is_priced_at_the_dearest_of_input_and_cache_writes() -> None:
    """A cache write can cost more than input (Anthropic: 1.25x for 5 minutes, 2x for an
    hour): every input token may be written to the cache, so the hold prices them so."""
    claude = ModelSpec(
        id="c",
        input_price_per_mtok=Decimal(3),
        output_price_per_mtok=Decimal(15),
        cache_read_price_per_mtok=Decimal("0.30"),
        cache_write_price_per_mtok=Decimal("3.75"),
        cache_write_1h_price_per_mtok=Decimal(6),
    )
    assert worst_case_units(claude, Demand(500), 100, BOUNDS) == 500 * 6_000 + 100 * 15_000
    reads_only = claude.model_copy(
        update={"cache_write_price_per_mtok": None, "cache_write_1h_price_per_mtok": None}
    )
    assert worst_case_units(reads_only, Demand(500), 100, BOUNDS) == 500 * 3_000 + 100 * 15_000

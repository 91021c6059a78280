"""Exact money: integer units of 10^-9 credit, Decimal prices, half-up rounding."""

from decimal import Decimal

import pytest

from gatewayz.billing.money import (
    UNITS_PER_CREDIT,
    call_cost_units,
    credits_to_units,
    dearest_input_price,
    format_credits,
    units_to_credits,
    usage_cost_units,
)
from gatewayz.protocols.usage import Usage
from gatewayz.providers.spec import ModelSpec


def _model(input_price: object, output_price: object) -> ModelSpec:
    return ModelSpec(id="m", input_price_per_mtok=input_price, output_price_per_mtok=output_price)


def test_one_input_token_at_ten_cents_per_million_is_100_units() -> None:
    assert call_cost_units(_model("0.10", "0"), 1, 0) == 100


def test_cost_adds_input_and_output_at_their_own_prices() -> None:
    # 3 * $2/Mtok + 5 * $8/Mtok = $0.000046
    assert call_cost_units(_model("2", "8"), 3, 5) == 46_000


def test_prices_written_as_yaml_floats_are_exact() -> None:
    model = _model(0.1, 0.3)
    assert call_cost_units(model, 1, 0) == 100
    assert call_cost_units(model, 0, 1) == 300
    assert call_cost_units(model, 1_000_000, 1_000_000) == 400_000_000


def test_a_million_tokens_cost_exactly_the_listed_price() -> None:
    model = _model("0.07", "15.123456")
    assert call_cost_units(model, 10**6, 0) == credits_to_units(Decimal("0.07"))
    assert call_cost_units(model, 0, 10**6) == credits_to_units(Decimal("15.123456"))


@pytest.mark.parametrize(
    ("price", "expected"),
    [("0.0005", 1), ("0.0004999", 0), ("0.0015", 2), ("0.0025", 3), ("0.0014", 1)],
)
def test_rounding_is_half_up_to_a_whole_unit(price: str, expected: int) -> None:
    assert call_cost_units(_model(price, "0"), 1, 0) == expected


def test_cost_of_nothing_is_zero() -> None:
    assert call_cost_units(_model("5", "15"), 0, 0) == 0


def test_cost_is_an_int_for_huge_counts() -> None:
    cost = call_cost_units(_model("75", "150"), 2_000_000_000, 2_000_000_000)
    assert type(cost) is int
    assert cost == 450_000 * UNITS_PER_CREDIT


def test_credits_to_units() -> None:
    assert credits_to_units(Decimal("1")) == 10**9
    assert credits_to_units(Decimal("0.000000001")) == 1
    assert credits_to_units(Decimal("12.5")) == 12_500_000_000
    assert credits_to_units(Decimal("1.2300000000")) == 1_230_000_000, "trailing zeros are fine"


def test_credits_to_units_refuses_more_than_nine_decimals() -> None:
    with pytest.raises(ValueError, match=r"0\.0000000015 has more than 9 decimal places"):
        credits_to_units(Decimal("0.0000000015"))


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (0, "0"),
        (1, "0.000000001"),
        (10**9, "1"),
        (100 * 10**9, "100"),
        (1_500_000_000, "1.5"),
        (123_456_789_012_345_678, "123456789.012345678"),
    ],
)
def test_format_credits_is_plain_decimal_without_exponent(units: int, text: str) -> None:
    assert format_credits(units) == text
    assert credits_to_units(Decimal(text)) == units


def test_units_to_credits_round_trips() -> None:
    for units in (0, 1, 999_999_999, 10**9, 10**18 + 7):
        assert credits_to_units(units_to_credits(units)) == units


# --- Prompt caching: each kind of input token at its own price, once --------------------


def _cached_model(**prices: str) -> ModelSpec:
    return ModelSpec(id="m", input_price_per_mtok="3", output_price_per_mtok="15", **prices)


CLAUDE = {
    "cache_read_price_per_mtok": "0.30",
    "cache_write_price_per_mtok": "3.75",
    "cache_write_1h_price_per_mtok": "6",
}


def test_each_kind_of_input_token_is_charged_at_its_own_price_once() -> None:
    # 3050 input tokens: 2000 read, 600 written for 5 minutes, 400 for an hour, 50 plain.
    usage = Usage(
        3050, 7, cache_read_tokens=2000, cache_write_tokens=1000, cache_write_1h_tokens=400
    )
    expected = 50 * 3_000 + 2000 * 300 + 600 * 3_750 + 400 * 6_000 + 7 * 15_000
    assert usage_cost_units(_cached_model(**CLAUDE), usage) == expected


def test_without_cache_prices_cache_tokens_cost_the_input_price() -> None:
    usage = Usage(
        3050, 7, cache_read_tokens=2000, cache_write_tokens=1000, cache_write_1h_tokens=400
    )
    assert usage_cost_units(_cached_model(), usage) == 3050 * 3_000 + 7 * 15_000


def test_one_hour_writes_without_their_price_cost_the_write_price() -> None:
    model = _cached_model(cache_write_price_per_mtok="3.75")
    usage = Usage(100, 0, cache_write_tokens=100, cache_write_1h_tokens=40)
    assert usage_cost_units(model, usage) == 100 * 3_750


def test_usage_without_cache_tokens_costs_what_call_cost_units_says() -> None:
    model = _cached_model(**CLAUDE)
    assert usage_cost_units(model, Usage(1234, 56)) == call_cost_units(model, 1234, 56)


def test_the_sum_is_rounded_once() -> None:
    # 1 token at 0.0004 and 1 at 0.0004: 0.8 unit, rounded once to 1 (twice would be 0).
    model = ModelSpec(
        id="m",
        input_price_per_mtok="0.0004",
        output_price_per_mtok="0",
        cache_read_price_per_mtok="0.0004",
    )
    assert usage_cost_units(model, Usage(2, 0, cache_read_tokens=1)) == 1


def test_the_dearest_input_price_bounds_every_kind() -> None:
    assert dearest_input_price(_cached_model(**CLAUDE)) == Decimal("6")
    assert dearest_input_price(_cached_model(cache_read_price_per_mtok="0.3")) == Decimal("3")
    assert dearest_input_price(_cached_model(cache_write_price_per_mtok="3.75")) == Decimal("3.75")


def test_negative_cache_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="cache_read_price_per_mtok"):
        _cached_model(cache_read_price_per_mtok="-1")

"""Exact money: credits are stored as integer units of 10⁻⁹ credit (1 credit = 1 USD).

A call's cost prices each kind of token once, at its own price: input tokens neither read from
nor written to the prompt cache at the input price, cache reads at the cache-read price, cache
writes at the cache-write price (one-hour writes at theirs), output tokens at the output price,
summed exactly and rounded once. A model without cache prices charges its cache tokens at the
input price, as if there were no cache. How each wire format reports the kinds (inside or
beside its input count) is read in protocols.usage.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from gatewayz.providers.spec import ModelSpec

UNITS_PER_CREDIT = 10**9
_PER_MTOK = Decimal(UNITS_PER_CREDIT) / Decimal(10**6)


def credits_to_units(credits: Decimal) -> int:
    """Whole units for an amount of credits; refuses amounts finer than one unit."""
    units = credits * UNITS_PER_CREDIT
    if units != units.to_integral_value():
        raise ValueError(f"{credits:f} has more than 9 decimal places")
    return int(units)


def units_to_credits(units: int) -> Decimal:
    return (Decimal(units) / UNITS_PER_CREDIT).normalize() if units else Decimal("0")


def format_credits(units: int) -> str:
    """A plain decimal string (no exponent), as the API returns balances."""
    return f"{units_to_credits(units):f}"


class TokenUsage(Protocol):
    """What a call used, as priced here (protocols.usage.Usage): the cache counts are parts of
    `input_tokens`, `cache_write_1h_tokens` a part of `cache_write_tokens`."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def images(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def cache_write_1h_tokens(self) -> int: ...


def _input_prices(model: ModelSpec) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(plain input, cache read, cache write, one-hour cache write) prices per million tokens;
    an unset cache price is the input price (a one-hour write's: the write price)."""
    plain = model.input_price_per_mtok or Decimal(0)
    read = _or(model.cache_read_price_per_mtok, plain)
    write = _or(model.cache_write_price_per_mtok, plain)
    return plain, read, write, _or(model.cache_write_1h_price_per_mtok, write)


def _or(price: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if price is None else price


def dearest_input_price(model: ModelSpec) -> Decimal:
    """The most one input token can cost on `model`, whatever the cache does with it."""
    return max(_input_prices(model))


def usage_cost_units(model: ModelSpec, usage: TokenUsage) -> int:
    """Each kind of token at its own price (see the module docstring), rounded half-up once."""
    plain, read, write, write_1h = _input_prices(model)
    written_1h = usage.cache_write_1h_tokens
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    exact = (
        uncached * plain
        + usage.cache_read_tokens * read
        + (usage.cache_write_tokens - written_1h) * write
        + written_1h * write_1h
        + usage.output_tokens * (model.output_price_per_mtok or 0)
    ) * _PER_MTOK
    if usage.images:
        exact += usage.images * (model.image_price or 0) * UNITS_PER_CREDIT
    return _rounded(exact)


def bound_cost_units(model: ModelSpec, input_tokens: int, output_tokens: int) -> int:
    """The most `input_tokens` and `output_tokens` can cost: every input token at the dearest
    input price (a cache write can cost more than plain input)."""
    exact = (
        input_tokens * dearest_input_price(model)
        + output_tokens * (model.output_price_per_mtok or 0)
    ) * _PER_MTOK
    return _rounded(exact)


def _rounded(exact: Decimal) -> int:
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def call_cost_units(
    model: ModelSpec, input_tokens: int, output_tokens: int, images: int = 0
) -> int:
    """input_tokens * input price + output_tokens * output price (+ images * image price),
    rounded half-up to a unit: a call without cache tokens."""
    exact = (
        input_tokens * (model.input_price_per_mtok or 0)
        + output_tokens * (model.output_price_per_mtok or 0)
    ) * _PER_MTOK
    if images:
        exact += images * (model.image_price or 0) * UNITS_PER_CREDIT
    return _rounded(exact)

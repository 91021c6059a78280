"""Exact money: credits are stored as integer units of 10⁻⁹ credit (1 credit = 1 USD)."""

from decimal import ROUND_HALF_UP, Decimal

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


def call_cost_units(
    model: ModelSpec, input_tokens: int, output_tokens: int, images: int = 0
) -> int:
    """input_tokens * input price + output_tokens * output price (+ images * image price),
    rounded half-up to a unit."""
    exact = (
        input_tokens * (model.input_price_per_mtok or 0)
        + output_tokens * (model.output_price_per_mtok or 0)
    ) * _PER_MTOK
    if images:
        exact += images * (model.image_price or 0) * UNITS_PER_CREDIT
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))

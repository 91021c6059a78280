"""Settings for plan renewals (`plans:`) and for the free trial (`trial:`), and the value
types (credits, model patterns, text) that they, plans, coupons and referrals accept."""

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gatewayz.limits.settings import LimitValues

MODEL_PATTERN = re.compile(r"^[^\s*]*(\*[^\s*]*)*$")
# The largest amount of credits one plan, trial or coupon grants (10^18 units: the balance
# column holds 64-bit integers), and the largest count stored in a 32-bit integer column.
MAX_CREDITS = Decimal(10**9)
MAX_COUNT = 2**31 - 1


def check_model_patterns(patterns: list[str] | None) -> list[str] | None:
    """Model ids or `*` patterns: non-empty, no spaces, at most 300 characters each."""
    if patterns is None:
        return None
    for pattern in patterns:
        if not pattern or len(pattern) > 300 or not MODEL_PATTERN.match(pattern):
            raise ValueError(
                f"{pattern!r} is not a model id or pattern (e.g. 'openai/gpt-4o' or 'openai/*')"
            )
    return patterns


def check_credits(value: Decimal) -> Decimal:
    """Credits with at most 9 decimal places (one unit is 10^-9 credit)."""
    if value != value.quantize(Decimal("1e-9")):
        raise ValueError("has more than 9 decimal places")
    return value


def check_text(value: str) -> str:
    """Text without NUL characters (PostgreSQL cannot store them)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Credits = Annotated[Decimal, Field(ge=0, le=MAX_CREDITS), AfterValidator(check_credits)]
PlainText = Annotated[str, AfterValidator(check_text)]
ModelPatterns = Annotated[list[str] | None, AfterValidator(check_model_patterns)]


class PlanSettings(BaseModel):
    """How often plans are renewed and users' entitlements are re-read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    renew_interval_seconds: float = Field(default=60.0, gt=0)
    refresh_seconds: float = Field(default=5.0, gt=0)


class TrialSettings(BaseModel):
    """The free trial: credits granted once per user, for `days`, with its own limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    credits: Credits = Decimal("10")
    days: float = Field(default=3.0, gt=0)
    rpm: int | None = Field(default=None, ge=1)
    rpd: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1)
    models: ModelPatterns = None
    ending_notice_hours: float = Field(default=24.0, ge=0)

    @property
    def limits(self) -> LimitValues:
        return LimitValues(rpm=self.rpm, rpd=self.rpd, tpm=self.tpm, concurrency=self.concurrency)

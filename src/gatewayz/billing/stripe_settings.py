"""Settings for buying credits with Stripe (`stripe:`) and for referral rewards (`referrals:`)."""

from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gatewayz.billing.plan_settings import Credits

_MOST = Decimal("999999.99")  # Stripe's largest charge in most currencies (8 digits)
# Currencies whose smallest unit is not a hundredth of the main unit in Stripe's API (zero- and
# three-decimal currencies, and ISK, which Stripe takes only in whole units): purchases are
# priced in hundredths, so these are refused rather than charged 100 times (or a tenth) too much.
_NOT_TWO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf", "isk", "bhd", "jod", "kwd", "omr", "tnd"}
)


class StripeSettings(BaseModel):
    """Stripe Checkout: keys, currency, the allowed purchase range and the redirect pages.

    Amounts are in the currency's main unit (dollars for "usd") with at most two decimals.
    A key not set here is read from the environment variable named by its `*_env` field.
    """

    model_config = ConfigDict(extra="forbid")

    secret_key: SecretStr | None = None
    secret_key_env: str = "STRIPE_SECRET_KEY"
    webhook_secret: SecretStr | None = None
    webhook_secret_env: str = "STRIPE_WEBHOOK_SECRET"
    api_base: str | None = None
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    credits_per_unit: Decimal = Field(default=Decimal("1"), gt=0)
    min_amount: Decimal = Field(default=Decimal("5"), gt=0, le=_MOST)
    max_amount: Decimal = Field(default=Decimal("1000"), gt=0, le=_MOST)
    success_url: str = "http://127.0.0.1:8000/?checkout=success"
    cancel_url: str = "http://127.0.0.1:8000/?checkout=cancelled"
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("currency")
    @classmethod
    def _two_decimal(cls, currency: str) -> str:
        if currency in _NOT_TWO_DECIMAL:
            raise ValueError(
                f"{currency} is not a two-decimal currency in Stripe; Gatewayz prices purchases "
                "in hundredths of the currency (usd, eur, gbp, ...)"
            )
        return currency

    @model_validator(mode="after")
    def _range_ordered(self) -> "StripeSettings":
        if self.min_amount > self.max_amount:
            raise ValueError("min_amount must not exceed max_amount")
        return self

    def secret(self, environ: Mapping[str, str]) -> str | None:
        """The API secret key, from the config or the environment."""
        return _value(self.secret_key, environ.get(self.secret_key_env))

    def signing_secret(self, environ: Mapping[str, str]) -> str | None:
        """The webhook signing secret (whsec_...), from the config or the environment."""
        return _value(self.webhook_secret, environ.get(self.webhook_secret_env))


def _value(configured: SecretStr | None, from_env: str | None) -> str | None:
    value = configured.get_secret_value() if configured is not None else from_env
    return value.strip() or None if value else None


class ReferralSettings(BaseModel):
    """Credits given when a referred user's first purchase settles."""

    model_config = ConfigDict(extra="forbid")

    reward_credits: Credits = Decimal("5")
    referred_reward_credits: Credits = Decimal("0")

"""The `stripe:` and `referrals:` settings."""

from pathlib import Path

import pytest

from gatewayz.billing.stripe_settings import ReferralSettings, StripeSettings
from gatewayz.settings import ConfigError, load_settings


def test_keys_come_from_the_config_or_else_the_environment() -> None:
    environ = {"STRIPE_SECRET_KEY": "sk_env", "STRIPE_WEBHOOK_SECRET": "whsec_env"}
    from_env = load_settings(environ=environ)
    configured = load_settings(
        environ=environ, stripe={"secret_key": "sk_config", "webhook_secret": "whsec_config"}
    )

    assert from_env.stripe.secret(environ) == "sk_env"
    assert from_env.stripe.signing_secret(environ) == "whsec_env"
    assert configured.stripe.secret(environ) == "sk_config"
    assert configured.stripe.signing_secret(environ) == "whsec_config"
    assert load_settings(environ={}).stripe.secret({}) is None
    assert "sk_config" not in repr(configured)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"stripe": {"min_amount": "50", "max_amount": "10"}}, "stripe"),
        ({"stripe": {"currency": "US Dollars"}}, "stripe.currency"),
        ({"stripe": {"currency": "jpy"}}, "stripe.currency"),
        ({"stripe": {"currency": "kwd"}}, "stripe.currency"),
        ({"stripe": {"credits_per_unit": "0"}}, "stripe.credits_per_unit"),
        ({"referrals": {"reward_credits": "-1"}}, "referrals.reward_credits"),
        ({"referrals": {"reward_credits": "0.0000000001"}}, "referrals.reward_credits"),
        ({"stripe": {"max_amount": "100000000"}}, "stripe.max_amount"),
    ],
)
def test_bad_values_are_refused_naming_the_field(section: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_settings(environ={}, **section)


def test_every_setting_is_documented() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "payments.md").read_text()
    for section, model in (("stripe", StripeSettings), ("referrals", ReferralSettings)):
        for name in model.model_fields:
            assert f"`{section}.{name}`" in page, name

"""Starting a purchase: the Checkout Session the fake Stripe API receives, and the pending
payment recorded for it."""

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing.payments import (
    CheckoutRefused,
    StripeCheckout,
    StripeUnavailable,
    start_checkout,
)
from gatewayz.billing.stripe_settings import StripeSettings
from gatewayz.store.tables import payments
from tests.fakes.stripe_api import FakeStripeAPI

KEY = "sk_test_checkout"


@pytest.fixture
async def stripe_api() -> AsyncIterator[FakeStripeAPI]:
    async with FakeStripeAPI(KEY) as fake:
        yield fake


def _checkout(stripe_api: FakeStripeAPI, **settings: object) -> StripeCheckout:
    values: dict[str, object] = {"secret_key": KEY, "api_base": stripe_api.base_url, **settings}
    return StripeCheckout(StripeSettings.model_validate(values), {})


async def _stored(engine: AsyncEngine) -> list[tuple[object, ...]]:
    query = select(
        payments.c.user_id,
        payments.c.checkout_session_id,
        payments.c.amount_cents,
        payments.c.currency,
        payments.c.credits_units,
        payments.c.status,
    )
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query)]


async def test_checkout_sends_stripe_the_amount_and_the_buyer(
    engine: AsyncEngine, stripe_api: FakeStripeAPI
) -> None:
    user = await accounts.create_user(engine, "buyer@example.com")
    checkout = _checkout(stripe_api, success_url="https://app.example/ok")
    try:
        started = await start_checkout(engine, checkout, user.id, Decimal("12.34"), None)
    finally:
        await checkout.close()

    assert started.url == stripe_api.sessions[started.session_id]["url"]
    (sent,) = stripe_api.requests
    assert sent.authorization == f"Bearer {KEY}"
    assert sent.form["mode"] == "payment"
    assert sent.form["client_reference_id"] == str(user.id)
    assert sent.form["metadata"] == {"user_id": str(user.id), "credits": "12.34"}
    assert sent.form["success_url"] == "https://app.example/ok"
    (item,) = sent.form["line_items"]
    assert item["quantity"] == "1"
    assert item["price_data"]["unit_amount"] == "1234"
    assert item["price_data"]["currency"] == "usd"
    assert await _stored(engine) == [
        (user.id, started.session_id, 1234, "usd", 12_340_000_000, "pending")
    ]


async def test_credits_per_unit_sets_how_many_credits_a_payment_buys(
    engine: AsyncEngine, stripe_api: FakeStripeAPI
) -> None:
    user = await accounts.create_user(engine, "buyer@example.com")
    checkout = _checkout(stripe_api, currency="eur", credits_per_unit="1.5")
    try:
        await start_checkout(engine, checkout, user.id, Decimal("10"), None)
    finally:
        await checkout.close()

    assert stripe_api.requests[0].form["metadata"]["credits"] == "15"
    assert stripe_api.requests[0].form["line_items"][0]["price_data"]["currency"] == "eur"
    assert (await _stored(engine))[0][4] == 15_000_000_000


@pytest.mark.parametrize("amount", ["0.99", "500.01", "10.005", "NaN"])
async def test_an_amount_out_of_range_is_refused_before_stripe_is_called(
    engine: AsyncEngine, stripe_api: FakeStripeAPI, amount: str
) -> None:
    user = await accounts.create_user(engine, "buyer@example.com")
    checkout = _checkout(stripe_api, min_amount="1", max_amount="500")
    try:
        with pytest.raises(CheckoutRefused) as refused:
            await start_checkout(engine, checkout, user.id, Decimal(amount), None)
    finally:
        await checkout.close()

    assert refused.value.param == "amount"
    assert stripe_api.requests == []
    assert await _stored(engine) == []


@pytest.mark.parametrize("failure", ["refused", "wrong key"])
async def test_a_stripe_failure_records_no_payment(
    engine: AsyncEngine, stripe_api: FakeStripeAPI, failure: str
) -> None:
    user = await accounts.create_user(engine, "buyer@example.com")
    if failure == "refused":
        stripe_api.fail_status = 400
        checkout = _checkout(stripe_api)
    else:
        checkout = _checkout(stripe_api, secret_key="sk_test_revoked_key")
    try:
        with pytest.raises(StripeUnavailable) as failed:
            await start_checkout(engine, checkout, user.id, Decimal("10"), None)
    finally:
        await checkout.close()

    assert "sk_test" not in str(failed.value)
    assert len(stripe_api.requests) == 1
    assert await _stored(engine) == []

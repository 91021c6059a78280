"""POST /stripe/webhook: signed Stripe events applied exactly once, over real HTTP."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.payments import format_cents
from gatewayz.store.tables import notifications, payments, stripe_events
from tests.api.stripe_shop import (
    UNITS,
    WEBHOOK_SECRET,
    Shop,
    open_shop,
    stale_timestamp,
)
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.stripe_api import event, signature_header


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Shop]:
    async with open_shop(database_url, engine, upstream) as opened:
        yield opened


async def _payment(shop: Shop, headers: dict[str, str]) -> dict[str, object]:
    listed = await shop.http.get("/user/payments", headers=headers)
    assert listed.status_code == 200
    return listed.json()["data"][0]


async def test_a_paid_checkout_adds_the_credits_once_and_tells_the_buyer(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    started = await shop.checkout(headers, "12.50")
    session_id = started.json()["id"]
    assert (await _payment(shop, headers))["status"] == "pending"

    completed = shop.stripe.completed(session_id)
    first = await shop.deliver("checkout.session.completed", completed, event_id="evt_paid_1")
    again = await shop.deliver("checkout.session.completed", completed, event_id="evt_paid_1")
    late = await shop.deliver("checkout.session.async_payment_succeeded", completed)

    assert first.status_code == again.status_code == late.status_code == 200
    assert first.json()["duplicate"] is False
    assert again.json()["duplicate"] is True
    assert await shop.balance(user_id) == 12_500_000_000
    assert await shop.ledger_rows(user_id) == [("purchase", 12_500_000_000)]
    payment = await _payment(shop, headers)
    assert payment["status"] == "paid"
    assert payment["amount"] == "12.50"
    assert payment["credits"] == "12.5"
    async with shop.engine.connect() as conn:
        notices = (
            await conn.execute(select(notifications.c.kind, notifications.c.recipient))
        ).all()
    assert [tuple(row) for row in notices] == [("payment_received", "buyer@example.com")]


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "no header", "stale", "body changed", "garbage header"],
)
async def test_an_unverified_delivery_is_refused_and_changes_nothing(
    shop: Shop, tamper: str
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = (await shop.checkout(headers, "10")).json()["id"]
    payload = orjson.dumps(event("checkout.session.completed", shop.stripe.completed(session_id)))
    signature: str | None = signature_header(payload, WEBHOOK_SECRET)
    if tamper == "wrong secret":
        signature = signature_header(payload, "whsec_someone_else")
    elif tamper == "no header":
        signature = None
    elif tamper == "stale":
        signature = signature_header(payload, WEBHOOK_SECRET, stale_timestamp())
    elif tamper == "body changed":
        payload = payload.replace(b'"amount_total":1000', b'"amount_total":100000')
    else:
        signature = "nonsense"

    refused = await shop.post_signed(payload, signature)

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "Stripe-Signature"
    assert WEBHOOK_SECRET not in refused.text
    assert await shop.balance(user_id) == 0
    assert (await _payment(shop, headers))["status"] == "pending"
    async with shop.engine.connect() as conn:
        assert (await conn.execute(select(stripe_events))).all() == []


@pytest.mark.parametrize(
    "changed",
    [{"amount_total": 100}, {"amount_total": 100_000}, {"currency": "eur"}, {"amount_total": None}],
)
async def test_a_completed_session_that_differs_from_its_payment_credits_nothing(
    shop: Shop, changed: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    _, admin = await shop.user("admin@example.com", role="admin")
    session_id = (await shop.checkout(headers, "10")).json()["id"]
    altered = shop.stripe.completed(session_id, **changed)

    with caplog.at_level(logging.ERROR, logger="gatewayz.billing"):
        answer = await shop.deliver("checkout.session.completed", altered)
    retried = await shop.deliver("checkout.session.async_payment_succeeded", altered)
    honest = await shop.deliver("checkout.session.completed", shop.stripe.completed(session_id))

    assert answer.status_code == retried.status_code == honest.status_code == 200
    payment = await shop.payment(headers)
    assert answer.json()["result"] == f"payment {payment['id']} mismatched"
    assert "ignored" in retried.json()["result"] and "ignored" in honest.json()["result"]
    assert await shop.balance(user_id) == 0
    assert await shop.ledger_rows(user_id) == []
    assert payment["status"] == "mismatched"
    assert "the checkout asked for 1000 usd" in payment["failure"]
    assert f"payment {payment['id']}" in caplog.text and "mismatch" in caplog.text
    (listed,) = await shop.admin_payments(admin, status="mismatched")
    assert (listed["id"], listed["user_id"], listed["failure"]) == (
        payment["id"],
        user_id,
        payment["failure"],
    )
    (audited,) = await shop.audit(admin, "payment.mismatched")
    assert (audited["target_type"], audited["target_id"]) == ("payment", str(payment["id"]))
    assert audited["details"]["failure"] == payment["failure"]
    async with shop.engine.connect() as conn:
        assert (await conn.execute(select(notifications))).all() == []


async def test_the_admin_payment_list_needs_the_permission(shop: Shop) -> None:
    _, headers = await shop.user("buyer@example.com")
    await shop.buy(headers, "10")

    refused = await shop.http.get("/admin/payments", headers=headers)

    assert refused.status_code == 403
    assert "users:read" in refused.json()["error"]["message"]


async def test_payments_that_fail_or_expire_add_nothing(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    delayed = (await shop.checkout(headers, "10")).json()["id"]
    abandoned = (await shop.checkout(headers, "20")).json()["id"]

    unpaid = shop.stripe.completed(delayed, payment_status="unpaid")
    await shop.deliver("checkout.session.completed", unpaid)
    statuses = {p["checkout_session_id"]: p["status"] for p in await _payments(shop, headers)}
    assert statuses[delayed] == "processing"
    await shop.deliver("checkout.session.async_payment_failed", unpaid)
    await shop.deliver("checkout.session.expired", shop.stripe.sessions[abandoned])

    statuses = {p["checkout_session_id"]: p["status"] for p in await _payments(shop, headers)}
    assert statuses == {delayed: "failed", abandoned: "expired"}
    assert await shop.balance(user_id) == 0
    assert await shop.ledger_rows(user_id) == []


async def test_a_delayed_payment_is_credited_when_it_succeeds(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = (await shop.checkout(headers, "10")).json()["id"]

    await shop.deliver(
        "checkout.session.completed", shop.stripe.completed(session_id, payment_status="unpaid")
    )
    assert await shop.balance(user_id) == 0
    await shop.deliver(
        "checkout.session.async_payment_succeeded", shop.stripe.completed(session_id)
    )

    assert await shop.balance(user_id) == 10 * UNITS
    assert (await _payment(shop, headers))["status"] == "paid"


async def test_unknown_sessions_and_event_types_are_acknowledged_and_ignored(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    await shop.checkout(headers, "10")
    stranger = {"id": "cs_test_not_ours", "object": "checkout.session", "payment_status": "paid"}

    unknown_session = await shop.deliver("checkout.session.completed", stranger)
    unknown_kind = await shop.deliver(
        "customer.created", {"id": "cus_1", "object": "customer"}, event_id="evt_customer"
    )
    again = await shop.deliver(
        "customer.created", {"id": "cus_1", "object": "customer"}, event_id="evt_customer"
    )

    assert unknown_session.status_code == unknown_kind.status_code == 200
    assert "unknown checkout session" in unknown_session.json()["result"]
    assert again.json()["duplicate"] is True
    assert await shop.balance(user_id) == 0
    assert (await _payment(shop, headers))["status"] == "pending"


async def test_a_full_refund_takes_the_credits_back(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = await shop.buy(headers, "10")

    refunded = await shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, 1000))

    assert refunded.status_code == 200
    assert await shop.balance(user_id) == 0
    assert await shop.ledger_rows(user_id) == [("purchase", 10 * UNITS), ("refund", -10 * UNITS)]
    payment = await _payment(shop, headers)
    assert payment["status"] == "refunded"
    assert payment["refunded_amount"] == "10.00"
    assert payment["credits_reversed"] == "10"


async def test_each_partial_refund_is_reversed_once(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = await shop.buy(headers, "20")
    first = shop.stripe.refunded_charge(session_id, 500)
    second = shop.stripe.refunded_charge(session_id, 1500)

    await shop.deliver("charge.refunded", first)
    await shop.deliver("charge.refunded", second)
    await shop.deliver("charge.refunded", first)  # the older state, delivered again late
    await shop.deliver("charge.refunded", second)

    assert await shop.balance(user_id) == 5 * UNITS
    assert await shop.ledger_rows(user_id) == [
        ("purchase", 20 * UNITS),
        ("refund", -5 * UNITS),
        ("refund", -10 * UNITS),
    ]
    payment = await _payment(shop, headers)
    assert payment["status"] == "partially_refunded"
    assert payment["refunded_amount"] == "15.00"


async def test_a_refund_after_spending_takes_back_what_is_left_and_records_the_rest(
    shop: Shop,
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = await shop.buy(headers, "10")
    await ledger.change_credits(
        shop.engine, user_id, -7 * UNITS, kind="usage", reason="calls", idempotency_key="spent"
    )

    await shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, 1000))

    assert await shop.balance(user_id) == 0
    assert (await shop.ledger_rows(user_id))[-1] == ("refund", -3 * UNITS)
    payment = await _payment(shop, headers)
    assert payment["status"] == "refunded"
    assert payment["credits_reversed"] == "3"
    assert payment["credits_not_reversed"] == "7"
    async with shop.engine.connect() as conn:
        reason = await conn.scalar(
            select(ledger.ledger.c.reason).where(ledger.ledger.c.kind == "refund")
        )
    assert "7 credits were already spent" in reason
    await shop.assert_balances_match_ledger()


@pytest.mark.parametrize(("refunded", "balance"), [(1000, 0), (300, 7 * UNITS)])
async def test_a_refund_before_the_completion_is_applied_when_the_payment_completes(
    shop: Shop, refunded: int, balance: int
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = (await shop.checkout(headers, "10")).json()["id"]

    early = await shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, refunded))
    assert early.status_code == 200
    assert "recorded" in early.json()["result"]
    assert await shop.balance(user_id) == 0
    completed = await shop.deliver("checkout.session.completed", shop.stripe.completed(session_id))
    assert "earlier refunds and disputes applied" in completed.json()["result"]

    assert await shop.balance(user_id) == balance
    assert await shop.ledger_rows(user_id) == [
        ("purchase", 10 * UNITS),
        ("refund", balance - 10 * UNITS),
    ]
    payment = await shop.payment(headers)
    assert payment["refunded_amount"] == format_cents(refunded)
    assert payment["status"] == ("refunded" if refunded == 1000 else "partially_refunded")
    async with shop.engine.connect() as conn:
        assert (await conn.execute(select(notifications))).all() == []
    await shop.assert_balances_match_ledger()


async def test_a_refund_and_the_completion_arriving_at_once_end_as_in_order(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    sessions = [(await shop.checkout(headers, "10")).json()["id"] for _ in range(6)]

    await asyncio.gather(
        *(
            delivery
            for session_id in sessions
            for delivery in (
                shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, 400)),
                shop.deliver("checkout.session.completed", shop.stripe.completed(session_id)),
            )
        )
    )

    assert await shop.balance(user_id) == 6 * 6 * UNITS
    payments_listed = await _payments(shop, headers)
    assert {p["status"] for p in payments_listed} == {"partially_refunded"}
    assert {p["credits_reversed"] for p in payments_listed} == {"4"}
    await shop.assert_balances_match_ledger()


async def test_the_same_event_delivered_many_times_at_once_is_applied_once(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = (await shop.checkout(headers, "25")).json()["id"]
    completed = shop.stripe.completed(session_id)
    payload = orjson.dumps(event("checkout.session.completed", completed))
    signature = signature_header(payload, WEBHOOK_SECRET)

    deliveries = await asyncio.gather(
        *(shop.post_signed(payload, signature) for _ in range(12)),
        *(shop.deliver("checkout.session.async_payment_succeeded", completed) for _ in range(4)),
    )

    assert [d.status_code for d in deliveries] == [200] * 16
    assert sum(not d.json()["duplicate"] for d in deliveries[:12]) == 1
    assert await shop.ledger_rows(user_id) == [("purchase", 25 * UNITS)]
    await shop.assert_balances_match_ledger()
    async with shop.engine.connect() as conn:
        status = await conn.scalar(select(payments.c.status))
    assert status == "paid"


async def _payments(shop: Shop, headers: dict[str, str]) -> list[dict[str, object]]:
    return (await shop.http.get("/user/payments", headers=headers)).json()["data"]


async def test_without_stripe_keys_the_endpoints_say_payments_are_unavailable(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    unconfigured = {"secret_key": None, "webhook_secret": None}
    async with open_shop(database_url, engine, upstream, stripe=unconfigured) as shop:
        _, headers = await shop.user("buyer@example.com")
        checkout = await shop.checkout(headers, "10")
        webhook = await shop.deliver("checkout.session.completed", {"id": "cs_1"})

    assert checkout.status_code == webhook.status_code == 503
    assert "no Stripe secret key" in checkout.json()["error"]["message"]
    assert "no Stripe webhook secret" in webhook.json()["error"]["message"]
    assert shop.stripe.requests == []

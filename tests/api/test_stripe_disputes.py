"""Disputes (chargebacks) over the real webhook: the disputed credits leave when Stripe takes
the money, come back when the dispute is won, stay gone when it is lost; each exactly once,
whatever the order and however often the events arrive."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from tests.api.stripe_shop import UNITS, Shop, open_shop
from tests.fakes.openai_upstream import FakeOpenAIUpstream


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Shop]:
    async with open_shop(database_url, engine, upstream) as opened:
        yield opened


async def _dispute(shop: Shop, kind: str, session_id: str, status: str, **options: object) -> str:
    """Deliver a `charge.dispute.<kind>` event; its result."""
    dispute = shop.stripe.dispute(session_id, status, **options)  # type: ignore[arg-type]
    answer = await shop.deliver(f"charge.dispute.{kind}", dispute)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["result"])


async def test_a_dispute_takes_the_credits_back_and_a_lost_one_keeps_them(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    _, admin = await shop.user("admin@example.com", role="admin")
    session_id = await shop.buy(headers, "20")

    opened = await _dispute(shop, "created", session_id, "needs_response")
    assert await shop.balance(user_id) == 0
    payment = await shop.payment(headers)
    assert opened == f"payment {payment['id']} disputed: 20 credits taken back"
    assert (payment["disputed_amount"], payment["dispute"]) == ("20.00", "needs_response")
    assert payment["credits_reversed"] == "20"
    await _dispute(shop, "funds_withdrawn", session_id, "needs_response")
    await _dispute(shop, "updated", session_id, "under_review")
    await _dispute(shop, "closed", session_id, "lost")

    assert await shop.balance(user_id) == 0
    assert await shop.ledger_rows(user_id) == [("purchase", 20 * UNITS), ("dispute", -20 * UNITS)]
    payment = await shop.payment(headers)
    assert (payment["status"], payment["dispute"], payment["disputed_amount"]) == (
        "paid",
        "lost",
        "20.00",
    )
    audited = await shop.audit(admin, "payment.dispute")
    assert [entry["details"]["status"] for entry in audited] == ["lost", "needs_response"]
    assert audited[-1]["target_id"] == str(payment["id"])
    await shop.assert_balances_match_ledger()


async def test_a_won_dispute_gives_the_credits_back_once(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = await shop.buy(headers, "20")

    await _dispute(shop, "created", session_id, "needs_response")
    won = await _dispute(shop, "closed", session_id, "won")
    await _dispute(shop, "funds_reinstated", session_id, "won")
    await _dispute(shop, "updated", session_id, "under_review")  # a late, older state

    assert await shop.balance(user_id) == 20 * UNITS
    assert await shop.ledger_rows(user_id) == [
        ("purchase", 20 * UNITS),
        ("dispute", -20 * UNITS),
        ("dispute", 20 * UNITS),
    ]
    payment = await shop.payment(headers)
    assert won == f"payment {payment['id']} dispute won: 20 credits given back"
    assert (payment["dispute"], payment["disputed_amount"], payment["credits_reversed"]) == (
        "won",
        "0.00",
        "0",
    )


async def test_an_inquiry_takes_nothing_until_stripe_withdraws_the_funds(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    closed_inquiry = await shop.buy(headers, "10")
    escalated = await shop.buy(headers, "5")

    await _dispute(shop, "created", closed_inquiry, "warning_needs_response")
    await _dispute(shop, "closed", closed_inquiry, "warning_closed")
    await _dispute(shop, "created", escalated, "warning_needs_response")
    assert await shop.balance(user_id) == 15 * UNITS
    await _dispute(shop, "funds_withdrawn", escalated, "needs_response")

    assert await shop.balance(user_id) == 10 * UNITS
    assert (await shop.ledger_rows(user_id))[-1] == ("dispute", -5 * UNITS)


@pytest.mark.parametrize(
    ("order", "balance"),
    [
        (["closed:won", "created:needs_response", "funds_withdrawn:needs_response"], 20),
        (["closed:lost", "created:needs_response", "funds_withdrawn:needs_response"], 0),
        (["funds_reinstated:won", "created:needs_response", "closed:won"], 20),
        (["created:needs_response", "funds_reinstated:won", "closed:won"], 20),
        (["updated:under_review", "closed:lost", "created:warning_needs_response"], 0),
    ],
)
async def test_dispute_events_out_of_order_end_as_in_order(
    shop: Shop, order: list[str], balance: int
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = await shop.buy(headers, "20")

    for step in order:
        kind, status = step.split(":")
        await _dispute(shop, kind, session_id, status)

    assert await shop.balance(user_id) == balance * UNITS
    assert sum(units for kind, units in await shop.ledger_rows(user_id) if kind == "dispute") in (
        0,
        -20 * UNITS,
    )
    await shop.assert_balances_match_ledger()


async def test_a_dispute_after_spending_takes_what_is_left_and_a_win_gives_back_only_that(
    shop: Shop,
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    _, admin = await shop.user("admin@example.com", role="admin")
    session_id = await shop.buy(headers, "10")
    await ledger.change_credits(
        shop.engine, user_id, -7 * UNITS, kind="usage", reason="calls", idempotency_key="spent"
    )

    await _dispute(shop, "created", session_id, "needs_response")
    assert await shop.balance(user_id) == 0
    payment = await shop.payment(headers)
    assert (payment["credits_reversed"], payment["credits_not_reversed"]) == ("3", "7")
    (listed,) = await shop.admin_payments(admin, user_id=user_id)
    assert listed["credits_not_reversed"] == "7"
    await _dispute(shop, "closed", session_id, "won")

    assert await shop.balance(user_id) == 3 * UNITS
    payment = await shop.payment(headers)
    assert (payment["credits_reversed"], payment["credits_not_reversed"]) == ("0", "0")
    await shop.assert_balances_match_ledger()


async def test_the_same_dispute_events_delivered_at_once_apply_once(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    sessions = [await shop.buy(headers, "10") for _ in range(3)]

    opening = [("created", "needs_response")] * 4 + [("funds_withdrawn", "needs_response")] * 4
    opened = await asyncio.gather(
        *(
            _dispute(shop, kind, session_id, status)
            for session_id in sessions
            for kind, status in opening
        )
    )
    assert sum("taken back" in result for result in opened) == 3
    assert await shop.balance(user_id) == 0

    closing = [("closed", "won"), ("funds_reinstated", "won")] * 4
    closed = await asyncio.gather(
        *(
            _dispute(shop, kind, session_id, status)
            for session_id in sessions
            for kind, status in closing
        )
    )

    assert sum("given back" in result for result in closed) == 3
    assert await shop.balance(user_id) == 30 * UNITS
    disputes = [units for kind, units in await shop.ledger_rows(user_id) if kind == "dispute"]
    assert sorted(disputes) == [-10 * UNITS] * 3 + [10 * UNITS] * 3
    await shop.assert_balances_match_ledger()


async def test_a_partial_refund_then_a_dispute_of_the_whole_charge_takes_the_credits_once(
    shop: Shop,
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = await shop.buy(headers, "20")

    await shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, 500))
    await _dispute(shop, "created", session_id, "needs_response")
    await _dispute(shop, "closed", session_id, "lost")
    await _dispute(shop, "funds_reinstated", session_id, "lost")  # the refunded part

    assert await shop.balance(user_id) == 0
    assert await shop.ledger_rows(user_id) == [
        ("purchase", 20 * UNITS),
        ("refund", -5 * UNITS),
        ("dispute", -15 * UNITS),
    ]


async def test_a_refund_arriving_while_a_dispute_holds_the_credits_counts_when_it_is_won(
    shop: Shop,
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = await shop.buy(headers, "20")

    await _dispute(shop, "created", session_id, "needs_response")
    await shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, 500))
    assert await shop.balance(user_id) == 0
    await _dispute(shop, "closed", session_id, "won")

    assert await shop.balance(user_id) == 15 * UNITS
    payment = await shop.payment(headers)
    assert (payment["status"], payment["credits_reversed"]) == ("partially_refunded", "5")
    await shop.assert_balances_match_ledger()


async def test_a_dispute_before_the_completion_is_applied_when_the_payment_completes(
    shop: Shop,
) -> None:
    user_id, headers = await shop.user("buyer@example.com")
    session_id = (await shop.checkout(headers, "10")).json()["id"]

    early = await _dispute(shop, "created", session_id, "needs_response")
    assert "recorded" in early
    await shop.deliver("checkout.session.completed", shop.stripe.completed(session_id))

    assert await shop.balance(user_id) == 0
    assert await shop.ledger_rows(user_id) == [("purchase", 10 * UNITS), ("dispute", -10 * UNITS)]
    await _dispute(shop, "closed", session_id, "won")
    assert await shop.balance(user_id) == 10 * UNITS

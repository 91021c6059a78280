"""Applying Stripe's events to payments and balances, each event exactly once.

The event's id is inserted into `stripe_events` in the same transaction as its effects: a
second delivery (also one arriving at the same moment) fails on that primary key and
changes nothing. Row locks are always taken in one order (payment, coupon, users by id),
so concurrent events, coupon redemptions and call settlements cannot deadlock.
"""

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing.coupons import Coupon, CouponError, grant_bonus, usable_coupon
from gatewayz.billing.ledger import apply_change, balance_units
from gatewayz.billing.money import format_credits
from gatewayz.billing.payments import format_cents
from gatewayz.billing.referrals import reward_first_purchase
from gatewayz.billing.stripe_settings import ReferralSettings
from gatewayz.store.tables import coupons, payments, stripe_events, users

log = logging.getLogger(__name__)

_OPEN = ("pending", "processing")
_SETTLED = ("paid", "partially_refunded", "refunded")


class MalformedEvent(Exception):
    """The verified payload is not a Stripe event object."""


@dataclass(frozen=True, slots=True)
class PaymentReceived:
    """What the buyer is told about a settled purchase."""

    payment_id: int
    user_id: int
    email: str
    amount: str
    currency: str
    credits: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery did: `duplicate` when the event had been applied before."""

    event_id: str
    result: str
    duplicate: bool = False
    received: PaymentReceived | None = None


async def apply_event(engine: AsyncEngine, event: object, referrals: ReferralSettings) -> Outcome:
    """Apply one verified Stripe event (the parsed JSON body) exactly once."""
    if not isinstance(event, dict):
        raise MalformedEvent("The payload is not a Stripe event object.")
    event_id, kind = event.get("id"), event.get("type")
    data = event.get("data")
    item = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(item, dict):
        raise MalformedEvent("The payload is not a Stripe event (id, type, data.object).")
    try:
        async with engine.begin() as conn:
            await conn.execute(stripe_events.insert().values(id=event_id, type=kind))
            outcome = await _dispatch(conn, event_id, kind, item, referrals)
    except IntegrityError:
        async with engine.connect() as conn:
            seen = await conn.scalar(
                select(stripe_events.c.id).where(stripe_events.c.id == event_id)
            )
        if seen is None:
            raise
        return Outcome(event_id, "already applied", duplicate=True)
    log.info("stripe event %s (%s): %s", event_id, kind, outcome.result)
    return outcome


async def _dispatch(
    conn: AsyncConnection,
    event_id: str,
    kind: str,
    item: dict[str, Any],
    referrals: ReferralSettings,
) -> Outcome:
    if kind == "checkout.session.completed":
        if item.get("payment_status") == "paid":
            return await _settle(conn, event_id, item, referrals)
        return await _close(conn, event_id, item, "processing")
    if kind == "checkout.session.async_payment_succeeded":
        return await _settle(conn, event_id, item, referrals)
    if kind == "checkout.session.async_payment_failed":
        return await _close(conn, event_id, item, "failed")
    if kind == "checkout.session.expired":
        return await _close(conn, event_id, item, "expired")
    if kind == "charge.refunded":
        return await _refund(conn, event_id, item)
    return Outcome(event_id, "ignored: not an event Gatewayz acts on")


async def _payment(conn: AsyncConnection, column: Any, value: object) -> Row[Any] | None:
    """The payment whose `column` is `value`, locked until the transaction ends."""
    query = select(payments).where(column == value)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def _open_payment(
    conn: AsyncConnection, event_id: str, session: dict[str, Any]
) -> Row[Any] | Outcome:
    """The still open payment of the event's checkout session, locked; or why the event is
    ignored."""
    payment = await _payment(conn, payments.c.checkout_session_id, session.get("id"))
    if payment is None:
        log.warning("stripe event %s names an unknown checkout session", event_id)
        return Outcome(event_id, "ignored: unknown checkout session")
    if payment.status not in _OPEN:
        return Outcome(event_id, f"ignored: payment {payment.id} is already {payment.status}")
    return payment


async def _close(
    conn: AsyncConnection, event_id: str, session: dict[str, Any], status: str
) -> Outcome:
    """Mark an open payment processing, failed or expired; no balance changes."""
    payment = await _open_payment(conn, event_id, session)
    if isinstance(payment, Outcome):
        return payment
    await _update(conn, payment.id, status=status, payment_intent_id=session.get("payment_intent"))
    return Outcome(event_id, f"payment {payment.id} {status}")


async def _settle(
    conn: AsyncConnection, event_id: str, session: dict[str, Any], referrals: ReferralSettings
) -> Outcome:
    """Mark the payment paid and credit the purchase, its coupon bonus and the referral."""
    payment = await _open_payment(conn, event_id, session)
    if isinstance(payment, Outcome):
        return payment
    if session.get("amount_total") != payment.amount_cents:
        log.warning(
            "payment %s: Stripe charged %s cents, the checkout asked for %s",
            payment.id,
            session.get("amount_total"),
            payment.amount_cents,
        )
    coupon = await _bonus_coupon(conn, payment)
    email, referrer_id = await _lock_users(conn, payment.user_id)
    await apply_change(
        conn,
        payment.user_id,
        payment.credits_units,
        kind="purchase",
        reason=f"payment {payment.id}: {format_cents(payment.amount_cents)} "
        f"{payment.currency.upper()} (Stripe {payment.checkout_session_id})",
        idempotency_key=f"payment:{payment.id}",
    )
    bonus = 0
    if coupon is not None:
        bonus = await grant_bonus(conn, coupon, payment.user_id, payment.id, payment.credits_units)
    await reward_first_purchase(conn, payment.user_id, referrer_id, referrals)
    await _update(
        conn,
        payment.id,
        status="paid",
        bonus_units=bonus,
        payment_intent_id=session.get("payment_intent") or payment.payment_intent_id,
    )
    received = PaymentReceived(
        payment.id,
        payment.user_id,
        email,
        format_cents(payment.amount_cents),
        payment.currency.upper(),
        format_credits(payment.credits_units + bonus),
    )
    return Outcome(event_id, f"payment {payment.id} paid", received=received)


async def _bonus_coupon(conn: AsyncConnection, payment: Row[Any]) -> Coupon | None:
    """The payment's bonus coupon, locked, if it may still be used; else None (logged)."""
    if payment.coupon_id is None:
        return None
    code = await conn.scalar(select(coupons.c.code).where(coupons.c.id == payment.coupon_id))
    try:
        return await usable_coupon(conn, code, payment.user_id, "bonus", lock=True)
    except CouponError as exc:
        log.info("payment %s gets no coupon bonus: %s", payment.id, exc)
        return None


async def _lock_users(conn: AsyncConnection, user_id: int) -> tuple[str, int | None]:
    """Lock the buyer and their referrer in id order; the buyer's email and referrer."""
    referrer_id = await conn.scalar(select(users.c.referred_by).where(users.c.id == user_id))
    ids = sorted({user_id, referrer_id} - {None})
    if conn.dialect.name != "sqlite":
        await conn.execute(
            select(users.c.id).where(users.c.id.in_(ids)).order_by(users.c.id).with_for_update()
        )
    row = (
        await conn.execute(select(users.c.email, users.c.referred_by).where(users.c.id == user_id))
    ).one()
    return row.email, row.referred_by


async def _refund(conn: AsyncConnection, event_id: str, charge: dict[str, Any]) -> Outcome:
    """Take back the credits of the refunded part, at most what the user still has."""
    payment = await _payment(conn, payments.c.payment_intent_id, charge.get("payment_intent"))
    if payment is None:
        log.warning("stripe event %s refunds an unknown payment", event_id)
        return Outcome(event_id, "ignored: unknown payment")
    refunded = charge.get("amount_refunded")
    if payment.status not in _SETTLED or not isinstance(refunded, int):
        log.warning("stripe event %s refunds payment %s (%s)", event_id, payment.id, payment.status)
        return Outcome(event_id, f"ignored: payment {payment.id} is {payment.status}")
    if refunded <= payment.refunded_cents:
        return Outcome(event_id, f"ignored: refund of payment {payment.id} already applied")
    refunded = min(refunded, payment.amount_cents)
    granted = payment.credits_units + payment.bonus_units
    due = granted * refunded // payment.amount_cents - payment.reversed_units
    due -= payment.unreversed_units
    taken = max(0, min(due, await balance_units(conn, payment.user_id, lock=True)))
    short = due - taken
    reason = (
        f"refund of {format_cents(refunded)} {payment.currency.upper()} in total on payment "
        f"{payment.id} (charge {charge.get('id')})"
    )
    if short:
        reason += f"; {format_credits(short)} credits were already spent and not reversed"
    await apply_change(
        conn,
        payment.user_id,
        -taken,
        kind="refund",
        reason=reason,
        idempotency_key=f"refund:{charge.get('id')}:{refunded}",
    )
    status = "refunded" if refunded >= payment.amount_cents else "partially_refunded"
    await _update(
        conn,
        payment.id,
        status=status,
        refunded_cents=refunded,
        reversed_units=payment.reversed_units + taken,
        unreversed_units=payment.unreversed_units + short,
    )
    return Outcome(event_id, f"payment {payment.id} {status}: {format_credits(taken)} reversed")


async def _update(conn: AsyncConnection, payment_id: int, **values: Any) -> None:
    await conn.execute(
        update(payments).where(payments.c.id == payment_id).values(**values, updated_at=func.now())
    )

"""A checkout's end: credit a paid payment (or refuse one whose amount differs), or close it.

A completed Checkout Session is credited only if its `amount_total` and `currency` are
those of the payment the gateway created; otherwise the payment is marked `mismatched`,
with the difference in `failure`, an error log line and a `payment.mismatched` audit entry,
and nothing is credited (the event is acknowledged, so Stripe does not retry it). Refunds
and disputes recorded before the completion are applied in the same transaction.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.billing import stripe_state
from gatewayz.billing.coupons import Coupon, CouponError, grant_bonus, usable_coupon
from gatewayz.billing.ledger import apply_change
from gatewayz.billing.money import format_credits
from gatewayz.billing.payment_claims import reconcile
from gatewayz.billing.payments import format_cents
from gatewayz.billing.referrals import reward_first_purchase
from gatewayz.billing.stripe_settings import ReferralSettings
from gatewayz.store.tables import coupons, payments, users

log = logging.getLogger(__name__)

OPEN = ("pending", "processing")


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


@dataclass(frozen=True, slots=True)
class PaymentNote:
    """An audit entry about a payment, or (before it is known) its PaymentIntent."""

    event: str
    target_type: str
    target_id: str
    details: dict[str, Any]


Auditor = Callable[[AsyncConnection, PaymentNote], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class EventContext:
    """One event being applied: its transaction, id and type, and where audit entries go."""

    conn: AsyncConnection
    event_id: str
    kind: str
    referrals: ReferralSettings
    audit: Auditor

    def outcome(self, result: str, received: PaymentReceived | None = None) -> Outcome:
        return Outcome(self.event_id, result, received=received)


async def locked_payment(conn: AsyncConnection, column: Any, value: object) -> Row[Any] | None:
    """The payment whose `column` is `value`, locked until the transaction ends."""
    query = select(payments).where(column == value)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def _open_payment(context: EventContext, session: dict[str, Any]) -> Row[Any] | Outcome:
    """The still open payment of the event's checkout session, locked after its intent; or
    why the event is ignored."""
    intent_id = session.get("payment_intent")
    if isinstance(intent_id, str):
        await stripe_state.lock_intent(context.conn, intent_id)
    payment = await locked_payment(context.conn, payments.c.checkout_session_id, session.get("id"))
    if payment is None:
        log.warning("stripe event %s names an unknown checkout session", context.event_id)
        return context.outcome("ignored: unknown checkout session")
    if payment.status not in OPEN:
        return context.outcome(f"ignored: payment {payment.id} is already {payment.status}")
    return payment


async def close_payment(context: EventContext, session: dict[str, Any], status: str) -> Outcome:
    """Mark an open payment processing, failed or expired; no balance changes."""
    payment = await _open_payment(context, session)
    if isinstance(payment, Outcome):
        return payment
    await _update(
        context.conn, payment.id, status=status, payment_intent_id=_intent(session, payment)
    )
    return context.outcome(f"payment {payment.id} {status}")


def mismatch(session: dict[str, Any], payment: Row[Any]) -> str | None:
    """Why the completed session is not the payment the gateway created, or None."""
    total, currency = session.get("amount_total"), session.get("currency")
    same_total = type(total) is int and total == payment.amount_cents
    if same_total and isinstance(currency, str) and currency.lower() == payment.currency:
        return None
    return (
        f"Stripe reported amount_total {total} {currency} (smallest currency unit), "
        f"but the checkout asked for {payment.amount_cents} {payment.currency}"
    )


async def complete_payment(context: EventContext, session: dict[str, Any]) -> Outcome:
    """Mark the payment paid and credit the purchase, its coupon bonus and the referral; then
    apply any refund or dispute recorded before."""
    payment = await _open_payment(context, session)
    if isinstance(payment, Outcome):
        return payment
    conn = context.conn
    failure = mismatch(session, payment)
    if failure is not None:
        return await _refuse(context, session, payment, failure)
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
    rewards = await reward_first_purchase(conn, payment.user_id, referrer_id, context.referrals)
    await _update(
        conn,
        payment.id,
        status="paid",
        bonus_units=bonus,
        payment_intent_id=_intent(session, payment),
        referrer_id=rewards.referrer_id,
        referral_units=rewards.referrer_units,
        welcome_units=rewards.welcome_units,
    )
    paid = await locked_payment(conn, payments.c.id, payment.id)
    assert paid is not None
    if (await reconcile(conn, paid)).changed:
        # A refund or dispute recorded before took its share at once: no "received" notice.
        return context.outcome(f"payment {payment.id} paid; earlier refunds and disputes applied")
    received = PaymentReceived(
        payment.id,
        payment.user_id,
        email,
        format_cents(payment.amount_cents),
        payment.currency.upper(),
        format_credits(payment.credits_units + bonus),
    )
    return context.outcome(f"payment {payment.id} paid", received)


async def _refuse(
    context: EventContext, session: dict[str, Any], payment: Row[Any], failure: str
) -> Outcome:
    """Record a completed session that differs from its payment; credit nothing."""
    log.error("payment %s not credited, amount mismatch: %s", payment.id, failure)
    await _update(
        context.conn,
        payment.id,
        status="mismatched",
        failure=failure,
        payment_intent_id=_intent(session, payment),
    )
    details = {"failure": failure, "checkout_session_id": payment.checkout_session_id}
    await context.audit(
        context.conn, PaymentNote("payment.mismatched", "payment", str(payment.id), details)
    )
    refused = await locked_payment(context.conn, payments.c.id, payment.id)
    assert refused is not None
    await reconcile(context.conn, refused)  # records refunds and disputes, credits nothing
    return context.outcome(f"payment {payment.id} mismatched")


def _intent(session: dict[str, Any], payment: Row[Any]) -> Any:
    intent = session.get("payment_intent")
    return intent if isinstance(intent, str) else payment.payment_intent_id


async def _bonus_coupon(conn: AsyncConnection, payment: Row[Any]) -> Coupon | None:
    """The payment's bonus coupon, locked, if it may still be used; else None (logged)."""
    if payment.coupon_id is None:
        return None
    query = select(coupons.c.code).where(coupons.c.id == payment.coupon_id)
    code = (await conn.execute(query)).scalar_one()
    try:
        return await usable_coupon(conn, code, payment.user_id, "bonus", lock=True)
    except CouponError as exc:
        log.info("payment %s gets no coupon bonus: %s", payment.id, exc)
        return None


async def _lock_users(conn: AsyncConnection, user_id: int) -> tuple[str, int | None]:
    """Lock the buyer and their referrer in id order; the buyer's email and referrer."""
    referrer_id: int | None = await conn.scalar(
        select(users.c.referred_by).where(users.c.id == user_id)
    )
    ids = [user_id] if referrer_id is None else sorted({user_id, referrer_id})
    if conn.dialect.name != "sqlite":
        await conn.execute(
            select(users.c.id).where(users.c.id.in_(ids)).order_by(users.c.id).with_for_update()
        )
    row = (
        await conn.execute(select(users.c.email, users.c.referred_by).where(users.c.id == user_id))
    ).one()
    return row.email, row.referred_by


async def _update(conn: AsyncConnection, payment_id: int, **values: Any) -> None:
    await conn.execute(
        update(payments).where(payments.c.id == payment_id).values(**values, updated_at=func.now())
    )

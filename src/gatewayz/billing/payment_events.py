"""Applying Stripe's events to payments and balances, each event exactly once.

The event's id is inserted into `stripe_events` in the same transaction as its effects: a
second delivery (also one arriving at the same moment) fails on that primary key and
changes nothing. Row locks are always taken in one order (the PaymentIntent's row, payment,
coupon, users by id), so concurrent events, coupon redemptions and call settlements cannot
deadlock. Refunds and disputes are recorded on the intent first (stripe_state.py) and then
reconciled into the payment's claims (payment_claims.py), so one arriving before the
payment completes is applied when it completes, with the same net effect.
"""

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import stripe_state
from gatewayz.billing.money import format_credits
from gatewayz.billing.payment_claims import Claimed, reconcile
from gatewayz.billing.payment_completion import (
    OPEN,
    Auditor,
    EventContext,
    Outcome,
    PaymentNote,
    close_payment,
    complete_payment,
    locked_payment,
)
from gatewayz.billing.payments import format_cents
from gatewayz.billing.stripe_settings import ReferralSettings
from gatewayz.store.tables import payments, stripe_events

log = logging.getLogger(__name__)

__all__ = ["Auditor", "MalformedEvent", "Outcome", "PaymentNote", "apply_event"]


class MalformedEvent(Exception):
    """The verified payload is not a Stripe event object."""


async def apply_event(
    engine: AsyncEngine, event: object, referrals: ReferralSettings, audit: Auditor
) -> Outcome:
    """Apply one verified Stripe event (the parsed JSON body) exactly once; `audit` writes
    the audit entries of what it did, in its transaction."""
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
            context = EventContext(conn, event_id, kind, referrals, audit)
            outcome = await _dispatch(context, item)
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


async def _dispatch(context: EventContext, item: dict[str, Any]) -> Outcome:
    kind = context.kind
    if kind == "checkout.session.completed":
        if item.get("payment_status") == "paid":
            return await complete_payment(context, item)
        return await close_payment(context, item, "processing")
    if kind == "checkout.session.async_payment_succeeded":
        return await complete_payment(context, item)
    if kind == "checkout.session.async_payment_failed":
        return await close_payment(context, item, "failed")
    if kind == "checkout.session.expired":
        return await close_payment(context, item, "expired")
    if kind == "charge.refunded":
        return await _refund(context, item)
    if kind.startswith("charge.dispute."):
        return await _dispute(context, item)
    return context.outcome("ignored: not an event Gatewayz acts on")


async def _refund(context: EventContext, charge: dict[str, Any]) -> Outcome:
    """Record the charge's refunded total and take back the refunded share of the credits."""
    intent_id, refunded = charge.get("payment_intent"), charge.get("amount_refunded")
    if not isinstance(intent_id, str) or not isinstance(refunded, int):
        log.warning("stripe event %s refunds a charge without a payment intent", context.event_id)
        return context.outcome("ignored: the charge names no payment intent")
    conn = context.conn
    intent = await stripe_state.lock_intent(conn, intent_id)
    grew = await stripe_state.record_refund(conn, intent, charge.get("id"), refunded)
    payment = await locked_payment(conn, payments.c.payment_intent_id, intent_id)
    if payment is None or payment.status in OPEN:
        if not grew:
            return context.outcome(f"ignored: refund of {intent_id} already recorded")
        log.info("stripe event %s: refund of %s kept for its payment", context.event_id, intent_id)
        return context.outcome(
            f"recorded: refund of {intent_id}, applied when its payment completes"
        )
    if not grew:
        return context.outcome(f"ignored: refund of payment {payment.id} already applied")
    claimed = await reconcile(conn, payment)
    status = await conn.scalar(select(payments.c.status).where(payments.c.id == payment.id))
    await context.audit(
        conn,
        PaymentNote(
            "payment.refunded",
            "payment",
            str(payment.id),
            {
                "refunded_amount": format_cents(min(refunded, payment.amount_cents)),
                "currency": payment.currency,
                **_claimed(claimed),
            },
        ),
    )
    return context.outcome(
        f"payment {payment.id} {status}: {format_credits(claimed.taken_units)} reversed"
    )


async def _dispute(context: EventContext, item: dict[str, Any]) -> Outcome:
    """Record the dispute's state; take the disputed credits while it holds the funds and give
    them back when it is won."""
    dispute = stripe_state.dispute_from(item)
    if dispute is None:
        log.warning("stripe event %s: a dispute without an intent or amount", context.event_id)
        return context.outcome("ignored: the dispute names no payment intent or amount")
    conn = context.conn
    await stripe_state.lock_intent(conn, dispute.payment_intent_id)
    change = await stripe_state.record_dispute(conn, dispute, context.kind)
    payment = await locked_payment(conn, payments.c.payment_intent_id, dispute.payment_intent_id)
    known = payment is not None and payment.status not in OPEN
    claimed = await reconcile(conn, payment) if payment is not None and known else Claimed()
    if change.changed or claimed.changed:
        target = ("payment_intent", dispute.payment_intent_id)
        if payment is not None:
            target = ("payment", str(payment.id))
        details = {
            "dispute": dispute.id,
            "status": change.status,
            "disputed_amount": format_cents(dispute.amount_cents),
            "currency": dispute.currency,
            **_claimed(claimed),
        }
        await context.audit(conn, PaymentNote("payment.dispute", *target, details))
        log.warning("stripe dispute %s (%s): %s", dispute.id, change.status, details)
    if not known:
        return context.outcome(
            f"recorded: dispute {dispute.id} of {dispute.payment_intent_id}, "
            "applied when its payment completes"
        )
    assert payment is not None
    if claimed.given_back_units:
        given = format_credits(claimed.given_back_units)
        return context.outcome(
            f"payment {payment.id} dispute {change.status}: {given} credits given back"
        )
    if claimed.taken_units or claimed.unrecovered_units:
        taken = format_credits(claimed.taken_units)
        return context.outcome(f"payment {payment.id} disputed: {taken} credits taken back")
    return context.outcome(f"payment {payment.id} dispute {change.status}: nothing to change")


def _claimed(claimed: Claimed) -> dict[str, str]:
    return {
        "credits_taken": format_credits(claimed.taken_units),
        "credits_given_back": format_credits(claimed.given_back_units),
        "credits_not_recovered": format_credits(claimed.unrecovered_units),
    }

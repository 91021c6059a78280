"""Buying credits: POST /user/checkout, GET /user/payments, Stripe's POST /stripe/webhook, and
GET /admin/payments for administrators (`users:read`)."""

import logging
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.accounts import audit
from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.permissions import require_permission
from gatewayz.api.admin_params import QueryId
from gatewayz.api.deps import EngineDep, NotifierDep, SettingsDep, StripeCheckoutDep
from gatewayz.api.request_bodies import stripe_webhook_body
from gatewayz.billing.money import format_credits
from gatewayz.billing.payment_events import MalformedEvent, Outcome, PaymentNote, apply_event
from gatewayz.billing.payments import (
    CheckoutRefused,
    Payment,
    PaymentFilter,
    PaymentRecord,
    PaymentsNotConfigured,
    PaymentStatus,
    StripeUnavailable,
    format_cents,
    list_payments,
    payment_records,
    start_checkout,
)
from gatewayz.errors import GatewayError, InvalidRequest, UpstreamError
from gatewayz.notify.notices import Notifier
from gatewayz.store.times import iso

log = logging.getLogger(__name__)

router = APIRouter(tags=["payments"])


class CheckoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(description='What to pay, in the configured currency, e.g. "20".')
    coupon: str | None = Field(default=None, max_length=64)


def _not_configured(what: str) -> GatewayError:
    return GatewayError(
        f"Payments are not available: the gateway has no Stripe {what} configured.",
        status=503,
        code="payments_not_configured",
    )


@router.post("/user/checkout")
async def checkout(
    body: CheckoutBody,
    engine: EngineDep,
    stripe_checkout: StripeCheckoutDep,
    principal: Annotated[Principal, Depends(current_principal)],
) -> dict[str, Any]:
    """Start a purchase: a Stripe Checkout Session to send the user to."""
    try:
        started = await start_checkout(
            engine, stripe_checkout, principal.user_id, body.amount, body.coupon
        )
    except PaymentsNotConfigured:
        raise _not_configured("secret key") from None
    except CheckoutRefused as exc:
        raise InvalidRequest(str(exc), param=exc.param) from None
    except StripeUnavailable as exc:
        raise UpstreamError("stripe", str(exc)) from None
    return {"id": started.session_id, "url": started.url, "payment_id": started.payment_id}


@router.get("/user/payments")
async def payments(
    engine: EngineDep, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, Any]:
    """The caller's purchases, newest first."""
    found = await list_payments(engine, principal.user_id)
    return {"object": "list", "data": [_payment_view(payment) for payment in found]}


def _payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "checkout_session_id": payment.checkout_session_id,
        "status": payment.status,
        "amount": format_cents(payment.amount_cents),
        "currency": payment.currency,
        "credits": format_credits(payment.credits_units),
        "bonus_credits": format_credits(payment.bonus_units),
        "coupon": payment.coupon,
        "refunded_amount": format_cents(payment.refunded_cents),
        "credits_reversed": format_credits(payment.reversed_units),
        "credits_not_reversed": format_credits(payment.unreversed_units),
        "disputed_amount": format_cents(payment.disputed_cents),
        "dispute": payment.dispute_status,
        "failure": payment.failure,
        "created_at": iso(payment.created_at),
        "updated_at": iso(payment.updated_at),
    }


@router.get("/admin/payments", dependencies=[Depends(require_permission("users:read"))])
async def admin_payments(
    engine: EngineDep,
    user_id: QueryId = None,
    status: Annotated[PaymentStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[QueryId, Query(description="next_before_id of a page.")] = None,
) -> dict[str, Any]:
    """Every user's payments, newest first, with what refunds and disputes took back (also
    from the referrer) and what could not be taken back; `status=mismatched` lists the
    completed checkouts that were not credited."""
    where = PaymentFilter(user_id=user_id, status=status, before_id=before_id)
    found = await payment_records(engine, where, limit + 1)
    page = found[:limit]
    return {
        "object": "list",
        "data": [_record_view(record) for record in page],
        "next_before_id": page[-1].payment.id if len(found) > limit else None,
    }


def _record_view(record: PaymentRecord) -> dict[str, Any]:
    return {
        **_payment_view(record.payment),
        "user_id": record.user_id,
        "payment_intent_id": record.payment_intent_id,
        "referrer_id": record.referrer_id,
        "referral_credits": format_credits(record.referral_units),
        "referral_credits_reversed": format_credits(record.referral_reversed_units),
        "referral_credits_not_reversed": format_credits(record.referral_unreversed_units),
    }


@router.post("/stripe/webhook", openapi_extra=stripe_webhook_body())
async def stripe_webhook(
    request: Request, engine: EngineDep, settings: SettingsDep, notifier: NotifierDep
) -> dict[str, Any]:
    """Stripe's event deliveries; the Stripe-Signature header is the authentication."""
    stripe_settings = settings.stripe
    secret = stripe_settings.signing_secret(settings.environ)
    if secret is None:
        raise _not_configured("webhook secret")
    payload = await request.body()
    import stripe  # only where Stripe is configured: the SDK costs ~30 MB of memory

    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            request.headers.get("stripe-signature"),
            secret,
            tolerance=stripe_settings.webhook_tolerance_seconds,
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        log.warning("refused a Stripe webhook delivery: %s", _why(exc))
        raise InvalidRequest(
            f"Stripe-Signature: {_why(exc)}.", param="Stripe-Signature", code="bad_signature"
        ) from None
    try:
        outcome = await apply_event(engine, orjson.loads(payload), settings.referrals, _audit)
    except (orjson.JSONDecodeError, MalformedEvent) as exc:
        raise InvalidRequest("The body is not a Stripe event object.") from exc
    await _notify(notifier, outcome)
    return {"received": True, "duplicate": outcome.duplicate, "result": outcome.result}


async def _audit(conn: AsyncConnection, note: PaymentNote) -> None:
    """Write a payment's audit entry in the event's transaction (Stripe is the actor)."""
    event = audit.AuditEvent(
        event=note.event,
        target_type=note.target_type,
        target_id=note.target_id,
        details=note.details,
    )
    await audit.record(conn, event)


def _why(exc: Exception) -> str:
    """Why a delivery was refused, without echoing the header or the secret."""
    if isinstance(exc, UnicodeDecodeError):
        return "the body is not UTF-8"
    message = str(exc)
    if "tolerance" in message:
        return "the signature's timestamp is too old"
    if "No Stripe-Signature" in message:
        return "the header is missing"
    return "the signature does not match the payload"


async def _notify(notifier: Notifier, outcome: Outcome) -> None:
    """Tell the buyer their credits arrived; the payment stands even if this fails."""
    received = outcome.received
    if received is None:
        return
    try:
        await notifier.notify(
            "payment_received",
            recipient=received.email,
            user_id=received.user_id,
            dedupe_key=f"payment_received:{received.payment_id}",
            amount=received.amount,
            currency=received.currency,
            credits=received.credits,
        )
    except Exception:
        log.exception("could not record the payment notice of payment %s", received.payment_id)

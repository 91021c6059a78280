"""Buying credits: a Stripe Checkout Session per purchase, recorded as a pending payment,
and the payments as buyers and administrators see them.

The credits are added only when Stripe reports the payment settled (payment_events.py).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing.coupons import CouponError, usable_coupon
from gatewayz.billing.money import UNITS_PER_CREDIT, format_credits
from gatewayz.billing.stripe_settings import StripeSettings
from gatewayz.store.tables import coupons, payments
from gatewayz.store.times import utc

log = logging.getLogger(__name__)

_CENTS = Decimal("0.01")
PaymentStatus = Literal[
    "pending",
    "processing",
    "paid",
    "partially_refunded",
    "refunded",
    "failed",
    "expired",
    "mismatched",
]


class PaymentsNotConfigured(Exception):
    """No Stripe secret key is configured."""


class CheckoutRefused(Exception):
    """The purchase cannot start; `param` names the field at fault."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class StripeUnavailable(Exception):
    """Stripe did not create the session; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Checkout:
    payment_id: int
    session_id: str
    url: str


@dataclass(frozen=True, slots=True)
class Payment:
    """A purchase as its buyer may see it; money in cents and credit units."""

    id: int
    checkout_session_id: str
    status: str
    amount_cents: int
    currency: str
    credits_units: int
    bonus_units: int
    coupon: str | None
    refunded_cents: int
    reversed_units: int
    unreversed_units: int
    disputed_cents: int
    dispute_status: str | None
    failure: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """A payment as administrators see it: the buyer's view, who bought, the PaymentIntent
    and the referral reward it gave, with what of it was taken back or could not be."""

    payment: Payment
    user_id: int
    payment_intent_id: str | None
    referrer_id: int | None
    referral_units: int
    referral_reversed_units: int
    referral_unreversed_units: int


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    """Which payments an administrator lists: all, or of one user, or in one status."""

    user_id: int | None = None
    status: str | None = None
    before_id: int | None = None


class StripeCheckout:
    """Creates Checkout Sessions with the official SDK over its aiohttp client."""

    def __init__(self, settings: StripeSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        secret = settings.secret(environ)
        self._http: Any = None
        self._client: Any = None
        if secret:
            import stripe  # only where Stripe is configured: the SDK costs ~30 MB of memory

            self._http = stripe.AIOHTTPClient(timeout=settings.timeout_seconds)
            self._client = stripe.StripeClient(
                secret,
                base_addresses={"api": settings.api_base} if settings.api_base else None,
                http_client=self._http,
                max_network_retries=1,
            )

    @property
    def configured(self) -> bool:
        return self._client is not None

    async def create_session(
        self, *, user_id: int, amount_cents: int, credits_units: int, coupon: str | None
    ) -> tuple[str, str]:
        """A payment-mode session for one line item of `amount_cents`; its (id, url)."""
        if self._client is None:
            raise PaymentsNotConfigured
        import stripe

        credits = format_credits(credits_units)
        metadata = {"user_id": str(user_id), "credits": credits}
        if coupon:
            metadata["coupon"] = coupon
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": self.settings.currency,
                                "unit_amount": amount_cents,
                                "product_data": {"name": f"{credits} Gatewayz credits"},
                            },
                        }
                    ],
                    "client_reference_id": str(user_id),
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "success_url": self.settings.success_url,
                    "cancel_url": self.settings.cancel_url,
                }
            )
        except stripe.StripeError as exc:
            log.warning(
                "Stripe refused a checkout session: status=%s code=%s",
                exc.http_status,
                exc.code,
            )
            raise StripeUnavailable(
                f"Stripe could not start the checkout (status {exc.http_status or 'none'})."
            ) from exc
        if not session.url:
            raise StripeUnavailable("Stripe returned a checkout session without a URL.")
        return session.id, session.url

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close_async()


def format_cents(cents: int) -> str:
    """An amount in cents as a decimal string of the main unit ("12.50")."""
    return f"{(Decimal(cents) * _CENTS).quantize(_CENTS)}"


def amount_in_cents(amount: Decimal, settings: StripeSettings) -> int:
    """The purchase amount in cents, within the configured range (checked first, so that an
    absurdly large or small amount never reaches the rounding)."""
    if not amount.is_finite() or not settings.min_amount <= amount <= settings.max_amount:
        raise CheckoutRefused(
            f"amount: must be between {settings.min_amount} and {settings.max_amount} "
            f"{settings.currency.upper()}.",
            "amount",
        )
    if amount != amount.quantize(_CENTS, rounding=ROUND_DOWN):
        raise CheckoutRefused("amount: at most two decimal places.", "amount")
    return int(amount / _CENTS)


def credits_for(amount: Decimal, settings: StripeSettings) -> int:
    """The credit units bought with `amount` (rounded down to a unit)."""
    units = amount * settings.credits_per_unit * UNITS_PER_CREDIT
    return int(units.to_integral_value(rounding=ROUND_DOWN))


async def start_checkout(
    engine: AsyncEngine,
    checkout: StripeCheckout,
    user_id: int,
    amount: Decimal,
    coupon_code: str | None,
) -> Checkout:
    """Check the purchase, create its Stripe session and record the payment as pending."""
    if not checkout.configured:
        raise PaymentsNotConfigured
    settings = checkout.settings
    amount_cents = amount_in_cents(amount, settings)
    credits_units = credits_for(amount, settings)
    coupon = None
    if coupon_code and coupon_code.strip():
        try:
            async with engine.connect() as conn:
                coupon = await usable_coupon(conn, coupon_code, user_id, "bonus")
        except CouponError as exc:
            raise CheckoutRefused(f"coupon: {exc}", "coupon") from exc
    session_id, url = await checkout.create_session(
        user_id=user_id,
        amount_cents=amount_cents,
        credits_units=credits_units,
        coupon=coupon.code if coupon else None,
    )
    async with engine.begin() as conn:
        payment_id = await conn.scalar(
            payments.insert()
            .values(
                user_id=user_id,
                checkout_session_id=session_id,
                amount_cents=amount_cents,
                currency=settings.currency,
                credits_units=credits_units,
                coupon_id=coupon.id if coupon else None,
                status="pending",
            )
            .returning(payments.c.id)
        )
    return Checkout(int(payment_id), session_id, url)


_VIEW = (
    payments.c.id,
    payments.c.checkout_session_id,
    payments.c.status,
    payments.c.amount_cents,
    payments.c.currency,
    payments.c.credits_units,
    payments.c.bonus_units,
    coupons.c.code.label("coupon"),
    payments.c.refunded_cents,
    payments.c.reversed_units,
    payments.c.unreversed_units,
    payments.c.disputed_cents,
    payments.c.dispute_status,
    payments.c.failure,
    payments.c.created_at,
    payments.c.updated_at,
)
_ADMIN = (
    payments.c.user_id,
    payments.c.payment_intent_id,
    payments.c.referrer_id,
    payments.c.referral_units,
    payments.c.referral_reversed_units,
    payments.c.referral_unreversed_units,
)
_FROM = payments.outerjoin(coupons, coupons.c.id == payments.c.coupon_id)


async def list_payments(engine: AsyncEngine, user_id: int) -> list[Payment]:
    """The user's payments, newest first."""
    query = (
        select(*_VIEW)
        .select_from(_FROM)
        .where(payments.c.user_id == user_id)
        .order_by(payments.c.id.desc())
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_payment(row._mapping) for row in rows]


async def payment_records(
    engine: AsyncEngine, where: PaymentFilter, limit: int
) -> list[PaymentRecord]:
    """Up to `limit` payments matching `where`, newest first."""
    query = select(*_VIEW, *_ADMIN).select_from(_FROM)
    if where.user_id is not None:
        query = query.where(payments.c.user_id == where.user_id)
    if where.status is not None:
        query = query.where(payments.c.status == where.status)
    if where.before_id is not None:
        query = query.where(payments.c.id < where.before_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(payments.c.id.desc()).limit(limit))).all()
    names = [column.name for column in _ADMIN]
    return [
        PaymentRecord(_payment(row._mapping), **{name: row._mapping[name] for name in names})
        for row in rows
    ]


def _payment(values: Mapping[Any, Any]) -> Payment:
    created, updated = utc(values["created_at"]), utc(values["updated_at"])
    assert created is not None and updated is not None
    fields = {name: values[name] for name in Payment.__dataclass_fields__}
    return Payment(**{**fields, "created_at": created, "updated_at": updated})

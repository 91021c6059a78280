"""Coupons: administrators create (`coupons:manage` and `credits:adjust`: a coupon adds credits),
list and disable them (`coupons:manage`); users redeem "credits" coupons."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gatewayz.accounts import audit
from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.permissions import require_permission, require_to_grant
from gatewayz.api.acting import admin_event
from gatewayz.api.deps import EngineDep
from gatewayz.billing import coupons
from gatewayz.billing.money import credits_to_units, format_credits
from gatewayz.billing.plan_settings import MAX_COUNT, MAX_CREDITS
from gatewayz.errors import Conflict, InvalidRequest, NotFound
from gatewayz.store.times import iso, utc

router = APIRouter(tags=["coupons"])

Manager = Annotated[Principal, Depends(require_permission("coupons:manage"))]


class NewCouponBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=3, max_length=64)
    kind: coupons.CouponKind
    credits: Decimal | None = Field(default=None, gt=0, le=MAX_CREDITS)
    percent: int | None = Field(default=None, ge=1, le=100)
    expires_at: datetime | None = None
    max_redemptions: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    max_per_user: int = Field(default=1, ge=1, le=MAX_COUNT)


class RedeemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)


def coupon_view(coupon: coupons.Coupon) -> dict[str, Any]:
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "credits": None if coupon.credits_units is None else format_credits(coupon.credits_units),
        "percent": coupon.percent,
        "expires_at": iso(coupon.expires_at),
        "max_redemptions": coupon.max_redemptions,
        "max_per_user": coupon.max_per_user,
        "redemptions": coupon.redemptions,
        "active": coupon.disabled_at is None,
        "created_at": iso(coupon.created_at),
        "disabled_at": iso(coupon.disabled_at),
    }


def _new_coupon(body: NewCouponBody) -> coupons.NewCoupon:
    """The coupon to store; 400 naming the field that does not fit its kind."""
    try:
        code = coupons.normalise_code(body.code)
    except coupons.CouponError as exc:
        raise InvalidRequest(f"code: {exc}", param="code") from None
    if body.kind == "credits" and (body.credits is None or body.percent is not None):
        raise InvalidRequest(
            'credits: a "credits" coupon needs credits, not percent.', param="credits"
        )
    if body.kind == "bonus" and (body.percent is None or body.credits is not None):
        raise InvalidRequest(
            'percent: a "bonus" coupon needs percent, not credits.', param="percent"
        )
    expires_at = body.expires_at
    if expires_at is not None:
        expires_at = utc(expires_at)
        if expires_at <= datetime.now(UTC):
            raise InvalidRequest("expires_at: must be in the future.", param="expires_at")
    try:
        units = None if body.credits is None else credits_to_units(body.credits)
    except ValueError as exc:
        raise InvalidRequest(f"credits: {exc}", param="credits") from None
    return coupons.NewCoupon(
        code, body.kind, units, body.percent, expires_at, body.max_redemptions, body.max_per_user
    )


@router.post("/admin/coupons", status_code=201)
async def create(
    body: NewCouponBody, request: Request, engine: EngineDep, actor: Manager
) -> dict[str, Any]:
    require_to_grant(actor, "A coupon")
    new = _new_coupon(body)
    try:
        async with engine.begin() as conn:
            coupon = await coupons.create_coupon(conn, new)
            view = coupon_view(coupon)
            await audit.record(
                conn, admin_event(request, actor, "coupon.created", "coupon", coupon.code, **view)
            )
    except coupons.CouponError as exc:
        raise Conflict(str(exc), param="code") from None
    return view


@router.get("/admin/coupons")
async def list_all(engine: EngineDep, actor: Manager) -> dict[str, Any]:
    found = await coupons.list_coupons(engine)
    return {"object": "list", "data": [coupon_view(coupon) for coupon in found]}


@router.delete("/admin/coupons/{code}")
async def disable(code: str, request: Request, engine: EngineDep, actor: Manager) -> dict[str, Any]:
    """Disable a coupon: nobody can redeem it from now on."""
    try:
        async with engine.begin() as conn:
            coupon = await coupons.disable_coupon(conn, code)
            await audit.record(
                conn, admin_event(request, actor, "coupon.disabled", "coupon", coupon.code)
            )
    except coupons.UnknownCoupon as exc:
        raise NotFound(str(exc)) from None
    except coupons.CouponError as exc:
        raise InvalidRequest(str(exc), param="code") from None
    return coupon_view(coupon)


@router.post("/user/coupons/redeem")
async def redeem(
    body: RedeemBody,
    engine: EngineDep,
    principal: Annotated[Principal, Depends(current_principal)],
) -> dict[str, Any]:
    """Add a "credits" coupon's credits to the caller's balance."""
    try:
        coupon, change = await coupons.redeem(engine, principal.user_id, body.code)
    except coupons.UnknownCoupon as exc:
        raise NotFound(str(exc), param="code") from None
    except coupons.CouponError as exc:
        raise InvalidRequest(f"code: {exc}", param="code") from None
    return {
        "code": coupon.code,
        "credits": format_credits(change.amount_units),
        "balance": format_credits(change.balance_after_units),
    }

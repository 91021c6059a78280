"""Coupons: fixed credits redeemed directly ("credits"), or a percent bonus on a purchase ("bonus").

Every use of a coupon locks its row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write
transactions are exclusive), so concurrent uses can never exceed its limits. A redemption
row, the coupon's counter and the ledger row are written in one transaction.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing.ledger import CreditChange, apply_change
from gatewayz.store.tables import coupon_redemptions, coupons
from gatewayz.store.times import utc

CouponKind = Literal["credits", "bonus"]
_CODE = re.compile(r"^[A-Z0-9_-]{3,64}$")


class CouponError(Exception):
    """The coupon cannot be created or used; the message says why."""


class UnknownCoupon(CouponError):
    """No coupon has that code."""


@dataclass(frozen=True, slots=True)
class Coupon:
    id: int
    code: str
    kind: str
    credits_units: int | None
    percent: int | None
    expires_at: datetime | None
    max_redemptions: int | None
    max_per_user: int
    redemptions: int
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewCoupon:
    code: str
    kind: CouponKind
    credits_units: int | None
    percent: int | None
    expires_at: datetime | None
    max_redemptions: int | None
    max_per_user: int = 1


_COLUMNS = (
    coupons.c.id,
    coupons.c.code,
    coupons.c.kind,
    coupons.c.credits_units,
    coupons.c.percent,
    coupons.c.expires_at,
    coupons.c.max_redemptions,
    coupons.c.max_per_user,
    coupons.c.redemptions,
    coupons.c.created_at,
    coupons.c.disabled_at,
)


def normalise_code(code: str) -> str:
    """Codes are case-insensitive: stored and compared in upper case."""
    code = code.strip().upper()
    if not _CODE.match(code):
        raise CouponError("A coupon code is 3 to 64 letters, digits, '-' or '_'.")
    return code


def _coupon(row: Mapping[Any, Any]) -> Coupon:
    values = dict(row)
    for name in ("expires_at", "created_at", "disabled_at"):
        if values[name] is not None:
            values[name] = utc(values[name])
    return Coupon(**values)


async def create_coupon(conn: AsyncConnection, new: NewCoupon) -> Coupon:
    """Store a new coupon in the caller's transaction; a taken code is a CouponError."""
    code = normalise_code(new.code)
    values = {
        "code": code,
        "kind": new.kind,
        "credits_units": new.credits_units,
        "percent": new.percent,
        "expires_at": None if new.expires_at is None else utc(new.expires_at),
        "max_redemptions": new.max_redemptions,
        "max_per_user": new.max_per_user,
        "redemptions": 0,
    }
    try:
        async with conn.begin_nested():
            await conn.execute(coupons.insert().values(**values))
    except IntegrityError as exc:
        raise CouponError(f"A coupon with the code {code} already exists.") from exc
    return await find_coupon(conn, code)


async def find_coupon(conn: AsyncConnection, code: str, *, lock: bool = False) -> Coupon:
    """The coupon with `code`, optionally locking its row until the transaction ends."""
    query = select(*_COLUMNS).where(coupons.c.code == normalise_code(code))
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise UnknownCoupon(f"No coupon has the code {normalise_code(code)}.")
    return _coupon(row._mapping)


async def list_coupons(engine: AsyncEngine) -> list[Coupon]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(*_COLUMNS).order_by(coupons.c.id))
        return [_coupon(row._mapping) for row in rows]


async def disable_coupon(conn: AsyncConnection, code: str) -> Coupon:
    """Stop the coupon from being used from now on (purchases started with it get no bonus)."""
    coupon = await find_coupon(conn, code, lock=True)
    if coupon.disabled_at is None:
        await conn.execute(
            update(coupons).where(coupons.c.id == coupon.id).values(disabled_at=datetime.now(UTC))
        )
    return await find_coupon(conn, code)


async def usable_coupon(
    conn: AsyncConnection, code: str, user_id: int, kind: CouponKind, *, lock: bool = False
) -> Coupon:
    """The coupon if `user_id` may use it now for `kind`; CouponError saying why not."""
    coupon = await find_coupon(conn, code, lock=lock)
    if coupon.kind != kind:
        where = (
            "redeemed at /user/coupons/redeem" if coupon.kind == "credits" else "used at checkout"
        )
        raise CouponError(f"The coupon {coupon.code} is {where}.")
    if coupon.disabled_at is not None:
        raise CouponError(f"The coupon {coupon.code} has been disabled.")
    if coupon.expires_at is not None and coupon.expires_at <= datetime.now(UTC):
        raise CouponError(f"The coupon {coupon.code} expired at {coupon.expires_at.isoformat()}.")
    if coupon.max_redemptions is not None and coupon.redemptions >= coupon.max_redemptions:
        raise CouponError(f"The coupon {coupon.code} has been used up.")
    if await _uses_by(conn, coupon.id, user_id) >= coupon.max_per_user:
        raise CouponError(f"You have already used the coupon {coupon.code} as often as allowed.")
    return coupon


async def redeem(engine: AsyncEngine, user_id: int, code: str) -> tuple[Coupon, CreditChange]:
    """Redeem a "credits" coupon: add its credits once, within its limits."""
    async with engine.begin() as conn:
        coupon = await usable_coupon(conn, code, user_id, "credits", lock=True)
        units = coupon.credits_units or 0
        ordinal = await _record_use(conn, coupon, user_id, units, payment_id=None)
        change = await apply_change(
            conn,
            user_id,
            units,
            kind="coupon",
            reason=f"coupon {coupon.code}",
            idempotency_key=f"coupon:{coupon.id}:user:{user_id}:{ordinal}",
        )
    return coupon, change


async def grant_bonus(
    conn: AsyncConnection, coupon: Coupon, user_id: int, payment_id: int, purchase_units: int
) -> int:
    """Credit a "bonus" coupon's percent of a settled purchase, in the caller's transaction;
    `coupon` was checked and locked by `usable_coupon` in it. Returns the bonus units."""
    bonus = purchase_units * (coupon.percent or 0) // 100
    await _record_use(conn, coupon, user_id, bonus, payment_id=payment_id)
    await apply_change(
        conn,
        user_id,
        bonus,
        kind="coupon_bonus",
        reason=f"coupon {coupon.code}: {coupon.percent}% bonus on payment {payment_id}",
        idempotency_key=f"coupon_bonus:{payment_id}",
    )
    return bonus


async def _uses_by(conn: AsyncConnection, coupon_id: int, user_id: int) -> int:
    query = select(func.count()).where(
        coupon_redemptions.c.coupon_id == coupon_id, coupon_redemptions.c.user_id == user_id
    )
    return int(await conn.scalar(query) or 0)


async def _record_use(
    conn: AsyncConnection, coupon: Coupon, user_id: int, units: int, *, payment_id: int | None
) -> int:
    """Write the redemption and count it on the coupon; the user's ordinal of this use."""
    await conn.execute(
        coupon_redemptions.insert().values(
            coupon_id=coupon.id, user_id=user_id, payment_id=payment_id, credits_units=units
        )
    )
    await conn.execute(
        update(coupons)
        .where(coupons.c.id == coupon.id)
        .values(redemptions=coupons.c.redemptions + 1)
    )
    return await _uses_by(conn, coupon.id, user_id)

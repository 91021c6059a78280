"""Redeeming coupons: limits, expiry, and one redemption however many arrive at once."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import coupons
from gatewayz.billing.coupons import CouponError, NewCoupon, UnknownCoupon
from gatewayz.store.tables import coupon_redemptions, ledger, users

UNITS = 10**9


async def _create(engine: AsyncEngine, code: str, **fields: object) -> coupons.Coupon:
    values: dict[str, object] = {
        "kind": "credits",
        "credits_units": 5 * UNITS,
        "percent": None,
        "expires_at": None,
        "max_redemptions": None,
        **fields,
    }
    async with engine.begin() as conn:
        return await coupons.create_coupon(conn, NewCoupon(code=code, **values))  # type: ignore[arg-type]


async def _user(engine: AsyncEngine, email: str) -> int:
    return (await accounts.create_user(engine, email)).id


async def _ledger(engine: AsyncEngine, user_id: int) -> list[tuple[str, int]]:
    query = select(ledger.c.kind, ledger.c.amount_units).where(ledger.c.user_id == user_id)
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query.order_by(ledger.c.id))]  # type: ignore[misc]


async def _redemptions(engine: AsyncEngine) -> tuple[int, int]:
    """(redemption rows, the coupons' counters) over all coupons."""
    async with engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).select_from(coupon_redemptions))
        counted = await conn.scalar(select(func.sum(coupons.coupons.c.redemptions)))
    return int(rows or 0), int(counted or 0)


async def _assert_balances_match_ledger(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        for user_id, balance in await conn.execute(select(users.c.id, users.c.balance_units)):
            total = await conn.scalar(
                select(func.coalesce(func.sum(ledger.c.amount_units), 0)).where(
                    ledger.c.user_id == user_id
                )
            )
            assert balance == total


async def test_a_credits_coupon_adds_its_credits_once_per_user(engine: AsyncEngine) -> None:
    await _create(engine, "welcome5")
    user_id = await _user(engine, "a@example.com")

    coupon, change = await coupons.redeem(engine, user_id, " Welcome5 ")
    with pytest.raises(CouponError, match="already used"):
        await coupons.redeem(engine, user_id, "WELCOME5")

    assert coupon.code == "WELCOME5"
    assert change.balance_after_units == 5 * UNITS
    assert await _ledger(engine, user_id) == [("coupon", 5 * UNITS)]
    assert await _redemptions(engine) == (1, 1)


async def test_max_per_user_allows_that_many_uses(engine: AsyncEngine) -> None:
    await _create(engine, "TWICE", max_per_user=2)
    user_id = await _user(engine, "a@example.com")

    await coupons.redeem(engine, user_id, "TWICE")
    await coupons.redeem(engine, user_id, "TWICE")
    with pytest.raises(CouponError, match="already used"):
        await coupons.redeem(engine, user_id, "TWICE")

    assert await _ledger(engine, user_id) == [("coupon", 5 * UNITS)] * 2


async def test_a_coupon_is_used_up_after_max_redemptions(engine: AsyncEngine) -> None:
    await _create(engine, "FIRST2", max_redemptions=2)
    first, second, third = [await _user(engine, f"{n}@example.com") for n in "abc"]

    await coupons.redeem(engine, first, "FIRST2")
    await coupons.redeem(engine, second, "FIRST2")
    with pytest.raises(CouponError, match="used up"):
        await coupons.redeem(engine, third, "FIRST2")

    assert await _ledger(engine, third) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expires_at": datetime.now(UTC) - timedelta(seconds=1)}, "expired"),
        ({"kind": "bonus", "credits_units": None, "percent": 10}, "used at checkout"),
    ],
)
async def test_expired_and_bonus_coupons_cannot_be_redeemed(
    engine: AsyncEngine, fields: dict[str, object], message: str
) -> None:
    await _create(engine, "NOPE", **fields)
    user_id = await _user(engine, "a@example.com")

    with pytest.raises(CouponError, match=message):
        await coupons.redeem(engine, user_id, "NOPE")

    assert await _ledger(engine, user_id) == []
    assert await _redemptions(engine) == (0, 0)


async def test_a_disabled_or_unknown_coupon_cannot_be_redeemed(engine: AsyncEngine) -> None:
    await _create(engine, "GONE")
    async with engine.begin() as conn:
        await coupons.disable_coupon(conn, "gone")
    user_id = await _user(engine, "a@example.com")

    with pytest.raises(CouponError, match="disabled"):
        await coupons.redeem(engine, user_id, "GONE")
    with pytest.raises(UnknownCoupon):
        await coupons.redeem(engine, user_id, "NEVER")

    assert await _ledger(engine, user_id) == []


async def _redeem_all(engine: AsyncEngine, attempts: list[tuple[int, str]]) -> int:
    """Redeem all at once; how many succeeded (the others must be refused, not fail)."""
    results = await asyncio.gather(
        *(coupons.redeem(engine, user_id, code) for user_id, code in attempts),
        return_exceptions=True,
    )
    for result in results:
        assert not isinstance(result, Exception) or isinstance(result, CouponError), result
    return sum(not isinstance(result, Exception) for result in results)


async def test_one_user_redeeming_many_times_at_once_gets_one_redemption(
    engine: AsyncEngine,
) -> None:
    await _create(engine, "RACE")
    user_id = await _user(engine, "a@example.com")

    assert await _redeem_all(engine, [(user_id, "RACE")] * 10) == 1

    assert await _ledger(engine, user_id) == [("coupon", 5 * UNITS)]
    assert await _redemptions(engine) == (1, 1)
    await _assert_balances_match_ledger(engine)


async def test_many_users_at_once_never_exceed_max_redemptions(engine: AsyncEngine) -> None:
    await _create(engine, "THREE", max_redemptions=3)
    user_ids = [await _user(engine, f"u{n}@example.com") for n in range(10)]

    assert await _redeem_all(engine, [(user_id, "THREE") for user_id in user_ids]) == 3

    assert await _redemptions(engine) == (3, 3)
    await _assert_balances_match_ledger(engine)

"""Referral codes and who referred whom: once, before the first purchase, never in a loop."""

import asyncio

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import referrals
from gatewayz.billing.referrals import ReferralError, UnknownReferralCode
from gatewayz.store.tables import payments, users


async def _user(engine: AsyncEngine, email: str) -> tuple[int, str]:
    user_id = (await accounts.create_user(engine, email)).id
    return user_id, await referrals.referral_code(engine, user_id)


async def _referred_by(engine: AsyncEngine, user_id: int) -> int | None:
    async with engine.connect() as conn:
        return await conn.scalar(select(users.c.referred_by).where(users.c.id == user_id))


async def test_each_user_gets_one_stable_unique_code(engine: AsyncEngine) -> None:
    first_id, first = await _user(engine, "a@example.com")
    _, second = await _user(engine, "b@example.com")

    codes = await asyncio.gather(*(referrals.referral_code(engine, first_id) for _ in range(5)))

    assert set(codes) == {first}
    assert first != second
    assert len(first) == 8


async def test_a_referrer_is_set_once(engine: AsyncEngine) -> None:
    alice, alice_code = await _user(engine, "alice@example.com")
    bob, _ = await _user(engine, "bob@example.com")
    _, carol_code = await _user(engine, "carol@example.com")

    assert await referrals.set_referrer(engine, bob, alice_code.lower()) == alice
    with pytest.raises(ReferralError, match="already set"):
        await referrals.set_referrer(engine, bob, carol_code)

    assert await _referred_by(engine, bob) == alice
    summary = await referrals.summary(engine, alice)
    assert (summary.referred_users, summary.rewards_units) == (1, 0)
    assert (await referrals.summary(engine, bob)).referred_by == alice_code


async def test_self_referral_and_unknown_codes_are_refused(engine: AsyncEngine) -> None:
    alice, alice_code = await _user(engine, "alice@example.com")

    with pytest.raises(ReferralError, match="own referral code"):
        await referrals.set_referrer(engine, alice, alice_code)
    with pytest.raises(UnknownReferralCode):
        await referrals.set_referrer(engine, alice, "ZZZZZZZZ")

    assert await _referred_by(engine, alice) is None


async def test_a_referral_loop_is_refused_directly_and_indirectly(engine: AsyncEngine) -> None:
    alice, alice_code = await _user(engine, "alice@example.com")
    bob, bob_code = await _user(engine, "bob@example.com")
    carol, carol_code = await _user(engine, "carol@example.com")
    await referrals.set_referrer(engine, bob, alice_code)  # alice referred bob
    await referrals.set_referrer(engine, carol, bob_code)  # bob referred carol

    with pytest.raises(ReferralError, match="referred by you"):
        await referrals.set_referrer(engine, alice, bob_code)
    with pytest.raises(ReferralError, match="referred by you"):
        await referrals.set_referrer(engine, alice, carol_code)

    assert await _referred_by(engine, alice) is None


async def test_two_users_naming_each_other_at_once_make_no_loop(engine: AsyncEngine) -> None:
    alice, alice_code = await _user(engine, "alice@example.com")
    bob, bob_code = await _user(engine, "bob@example.com")

    results = await asyncio.gather(
        referrals.set_referrer(engine, alice, bob_code),
        referrals.set_referrer(engine, bob, alice_code),
        return_exceptions=True,
    )

    assert sorted(type(result).__name__ for result in results) == ["ReferralError", "int"]
    assert [await _referred_by(engine, alice), await _referred_by(engine, bob)].count(None) == 1


async def test_no_referrer_after_the_first_purchase(engine: AsyncEngine) -> None:
    _, alice_code = await _user(engine, "alice@example.com")
    bob, _ = await _user(engine, "bob@example.com")
    async with engine.begin() as conn:
        await conn.execute(
            payments.insert().values(
                user_id=bob,
                checkout_session_id="cs_paid",
                amount_cents=500,
                currency="usd",
                credits_units=5 * 10**9,
                status="pending",
            )
        )
    await referrals.set_referrer(engine, bob, alice_code)  # a pending payment is no purchase
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == bob).values(referred_by=None))
        await conn.execute(update(payments).values(status="paid"))

    with pytest.raises(ReferralError, match="before your first purchase"):
        await referrals.set_referrer(engine, bob, alice_code)

    assert await _referred_by(engine, bob) is None

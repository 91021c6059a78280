"""Per-key spending limits in the store: holds on the key, and spend counted at settlement."""

import asyncio

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import key_store
from gatewayz.accounts import users as accounts
from gatewayz.accounts.key_store import Actor
from gatewayz.billing import key_spend, ledger
from gatewayz.billing.key_spend import KeySpending
from gatewayz.store.tables import api_keys
from gatewayz.store.tables import ledger as ledger_table

SECRET = b"server-secret"


async def _key(engine: AsyncEngine, credits_units: int, limit_units: int | None) -> tuple[int, int]:
    user = await accounts.create_user(engine, "spender@example.com")
    await ledger.change_credits(
        engine, user.id, credits_units, kind="grant", reason="test", idempotency_key="seed"
    )
    await accounts.create_key(engine, SECRET, user.id, "k")
    [info] = await accounts.list_keys(engine, user.id)
    async with engine.begin() as conn:
        await conn.execute(
            update(api_keys).where(api_keys.c.id == info.id).values(spend_limit_units=limit_units)
        )
    return user.id, info.id


async def _key_state(engine: AsyncEngine, key_id: int) -> tuple[int, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(api_keys.c.spent_units, api_keys.c.reserved_units).where(
                    api_keys.c.id == key_id
                )
            )
        ).one()
    return row[0], row[1]


async def test_concurrent_holds_never_pass_the_limit(engine: AsyncEngine) -> None:
    _, key_id = await _key(engine, 10**12, limit_units=1_000)
    spending = KeySpending(engine)
    results = await asyncio.gather(*(spending.hold(key_id, 70) for _ in range(40)))
    assert results.count(True) == 14  # 14 * 70 = 980; a 15th would make 1050
    assert await _key_state(engine, key_id) == (0, 980)


async def test_settlement_counts_the_charge_and_releases_the_hold_with_the_ledger_row(
    engine: AsyncEngine,
) -> None:
    user_id, key_id = await _key(engine, 50, limit_units=1_000)
    spending = KeySpending(engine)
    assert await spending.hold(key_id, 400)
    assert await spending.hold(key_id, 400)
    assert not await spending.hold(key_id, 201)
    async with engine.begin() as conn:
        await ledger.settle(
            conn,
            [
                ledger.Settlement(user_id, "r1", 0, 30, "m", key_id=key_id, key_held_units=400),
                ledger.Settlement(user_id, "r2", 0, 30, "m", key_id=key_id, key_held_units=400),
            ],
        )
    # Both are charged in full, the second past the 20 units left: the key counts both.
    assert await _key_state(engine, key_id) == (60, 0)
    async with engine.connect() as conn:
        charged = (await conn.execute(select(ledger_table.c.amount_units))).scalars().all()
    assert sorted(charged) == [-30, -30, 50]
    assert await spending.hold(key_id, 940)
    assert not await spending.hold(key_id, 1)


async def test_a_key_whose_limit_was_removed_is_held_without_a_check(engine: AsyncEngine) -> None:
    _, key_id = await _key(engine, 10, limit_units=None)
    assert await KeySpending(engine).hold(key_id, 10**15)


async def test_a_hold_landing_after_its_call_was_cancelled_is_given_back(
    engine: AsyncEngine,
) -> None:
    _, key_id = await _key(engine, 10**12, limit_units=1_000)
    spending = KeySpending(engine)
    call = asyncio.ensure_future(spending.hold(key_id, 600))
    await asyncio.sleep(0)  # the UPDATE is on its way
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await spending.stop()
    assert await _key_state(engine, key_id) == (0, 0)
    assert await spending.hold(key_id, 1_000), "the whole limit is free again"


async def test_a_rotated_keys_calls_count_once_on_its_replacements_at_their_cost(
    engine: AsyncEngine,
) -> None:
    """Rotation counts the old key's calls in flight on the new key at their hold; when they
    settle, every replacement (after two rotations, both) counts their cost instead, the old
    key is held no more, and the replacement's limit is the one left."""
    user_id, old = await _key(engine, 10**12, limit_units=1_000)
    spending = KeySpending(engine)
    assert await spending.hold(old, 300)
    actor = Actor(user_id, None, None)
    _, middle = await key_store.rotate(engine, SECRET, actor, old, 600)
    assert await _key_state(engine, middle.id) == (300, 0), "the hold counts as spent"
    assert not await spending.hold(old, 1), "a rotated-out key is held no more"
    assert await spending.hold(middle.id, 200)
    _, last = await key_store.rotate(engine, SECRET, actor, middle.id, 600)
    assert await _key_state(engine, last.id) == (500, 0)

    async with engine.begin() as conn:
        await key_spend.record(conn, [(old, 120, 300), (middle.id, 50, 200)])
    assert await _key_state(engine, old) == (120, 0)
    assert await _key_state(engine, middle.id) == (120 + 50, 0)
    assert await _key_state(engine, last.id) == (120 + 50, 0)
    assert await spending.hold(last.id, 830) and not await spending.hold(last.id, 1)

"""Settlements written late (retried through an outage, replayed from a journal) charge in
full but give back no hold that a reclaim gave back already."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger, settlement_sink
from gatewayz.billing.hold_owners import HoldOwner, HoldSettings, reclaim
from gatewayz.billing.key_spend import KeySpending
from gatewayz.store.tables import api_keys, process_holds, users
from tests.conftest import add_funded_user

SETTINGS = HoldSettings(heartbeat_seconds=3600)


async def _state(engine: AsyncEngine, user_id: int) -> tuple[int, int, int, int]:
    """The user's balance and hold, and their key's spend and hold."""
    async with engine.connect() as conn:
        balance, reserved = (
            await conn.execute(
                select(users.c.balance_units, users.c.reserved_units).where(users.c.id == user_id)
            )
        ).one()
        spent, key_reserved = (
            await conn.execute(
                select(api_keys.c.spent_units, api_keys.c.reserved_units).where(
                    api_keys.c.user_id == user_id
                )
            )
        ).one()
    return int(balance), int(reserved), int(spent), int(key_reserved)


async def _setup(engine: AsyncEngine, email: str) -> tuple[int, int, HoldOwner, int]:
    user_id, _ = await add_funded_user(engine, email, "1")
    async with engine.connect() as conn:
        key_id = int(await conn.scalar(select(api_keys.c.id).where(api_keys.c.user_id == user_id)))
    owner = HoldOwner(engine, SETTINGS)
    await owner.start()
    assert await ledger.reserve(engine, user_id, 5_000, owner.id)
    assert await KeySpending(engine, owner=owner.id).hold(key_id, 500)
    start = (await _state(engine, user_id))[0]
    return user_id, key_id, owner, start


async def _settle(engine: AsyncEngine, *items: ledger.Settlement | ledger.HoldRelease) -> None:
    async with engine.begin() as conn:
        await settlement_sink.settle(conn, list(items))


async def test_a_live_owners_settlement_releases_what_it_held(engine: AsyncEngine) -> None:
    user_id, key_id, owner, start = await _setup(engine, "live@example.com")
    await _settle(
        engine, ledger.Settlement(user_id, "req_1", 3_000, 1_000, "m", key_id, 500, owner.id)
    )
    assert await _state(engine, user_id) == (start - 1_000, 2_000, 1_000, 0)
    async with engine.connect() as conn:
        held = (await conn.execute(select(process_holds.c.kind, process_holds.c.units))).all()
    assert sorted(held) == [("key", 0), ("user", 2_000)]


async def test_a_reclaimed_owners_settlement_charges_but_gives_back_nothing(
    engine: AsyncEngine,
) -> None:
    user_id, key_id, owner, start = await _setup(engine, "reclaimed@example.com")
    [reclaimed] = await reclaim(engine, stale_seconds=0)
    assert reclaimed.process_id == owner.id
    assert await ledger.reserve(engine, user_id, 1_000)  # another call's hold
    await _settle(
        engine,
        ledger.Settlement(user_id, "req_1", 3_000, 1_000, "m", key_id, 500, owner.id),
        ledger.HoldRelease(user_id, 2_000, owner.id),
    )
    assert await _state(engine, user_id) == (start - 1_000, 1_000, 1_000, 0)


async def test_releases_are_capped_at_what_the_owner_still_holds(engine: AsyncEngine) -> None:
    user_id, _, owner, start = await _setup(engine, "capped@example.com")
    assert await ledger.reserve(engine, user_id, 1_000)  # another call's hold
    await _settle(
        engine,
        ledger.HoldRelease(user_id, 4_000, owner.id),
        ledger.HoldRelease(user_id, 4_000, owner.id),  # 3_000 more than the owner held
    )
    assert (await _state(engine, user_id))[:2] == (start, 1_000)

"""Holds of a gateway process that died are given back; a live process's holds are not."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.hold_owners import HoldOwner, HoldSettings, reclaim
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.key_spend import KeySpending
from gatewayz.store.batch import BatchWriter
from gatewayz.store.tables import api_keys, gateway_processes, process_holds, users
from tests.conftest import add_funded_user

SETTINGS = HoldSettings(heartbeat_seconds=3600, stale_seconds=60)


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[BatchWriter]:
    writer = BatchWriter(engine, [("settlements", ledger.settle)], interval=60, max_batch=1000)
    yield writer
    await writer.stop()


async def _reserved(engine: AsyncEngine, user_id: int) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(users.c.reserved_units).where(users.c.id == user_id)))


async def _key_reserved(engine: AsyncEngine, key_id: int) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(select(api_keys.c.reserved_units).where(api_keys.c.id == key_id))
        return int(found)


async def _last_seen(engine: AsyncEngine, owner: HoldOwner, seconds_ago: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(gateway_processes)
            .where(gateway_processes.c.id == owner.id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(seconds=seconds_ago))
        )


async def test_a_dead_processs_leases_and_key_holds_are_given_back(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "crash@example.com", "10")
    async with engine.connect() as conn:
        key_id = await conn.scalar(select(api_keys.c.id).where(api_keys.c.user_id == user_id))
    dead = HoldOwner(engine, SETTINGS)
    await dead.start()
    assert await CreditHolds(engine, writer, lease_factor=8, owner=dead.id).hold(user_id, 1_000)
    assert await KeySpending(engine, owner=dead.id).hold(key_id, 500)
    assert await _reserved(engine, user_id) == 8_000
    assert await _key_reserved(engine, key_id) == 500

    alive = HoldOwner(engine, SETTINGS)
    await alive.start()
    live_holds = CreditHolds(engine, writer, lease_factor=8, owner=alive.id)
    assert await live_holds.hold(user_id, 1_000)

    await _last_seen(engine, dead, seconds_ago=61)  # it stopped beating: killed
    [reclaimed] = await reclaim(engine, SETTINGS.stale_seconds)
    assert (reclaimed.process_id, reclaimed.users, reclaimed.keys) == (dead.id, 1, 1)
    assert reclaimed.units == 8_500
    assert await _reserved(engine, user_id) == 8_000, "the live process keeps its lease"
    assert await _key_reserved(engine, key_id) == 0
    assert await reclaim(engine, SETTINGS.stale_seconds) == [], "given back once"
    await alive.stop()


async def test_settlements_give_back_what_the_process_recorded(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "settled@example.com", "10")
    owner = HoldOwner(engine, SETTINGS)
    await owner.start()
    holds = CreditHolds(engine, writer, lease_factor=8, owner=owner.id)
    assert await holds.hold(user_id, 1_000)
    writer.add(
        "settlements",
        ledger.Settlement(
            user_id, "r1", holds.release(user_id, 1_000, 300), 300, "m", owner=owner.id
        ),
    )
    holds.give_back([user_id])
    await writer.flush()
    assert await _reserved(engine, user_id) == 0
    async with engine.connect() as conn:
        recorded = await conn.scalar(
            select(process_holds.c.units).where(process_holds.c.process_id == owner.id)
        )
    assert recorded == 0
    await owner.stop()
    async with engine.connect() as conn:
        assert await conn.scalar(select(gateway_processes.c.id)) is None, (
            "a clean stop leaves no row"
        )

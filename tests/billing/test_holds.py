"""Credit leases: holds served from a per-process lease of the user's balance."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.holds import CreditHolds
from gatewayz.store.batch import BatchWriter
from gatewayz.store.tables import users
from tests.conftest import add_funded_user


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[BatchWriter]:
    writer = BatchWriter(engine, [("settlements", ledger.settle)], interval=60, max_batch=1000)
    yield writer
    await writer.stop()


async def _reserved(engine: AsyncEngine, user_id: int) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(users.c.reserved_units).where(users.c.id == user_id)))


async def test_a_hold_leases_more_than_the_call_needs(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "lease@example.com", "10")
    holds = CreditHolds(engine, writer, lease_factor=64)
    assert await holds.hold(user_id, 1_000)
    assert await _reserved(engine, user_id) == 64_000


async def test_give_back_returns_the_unused_lease_of_a_busy_user(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "busy@example.com", "10")
    holds = CreditHolds(engine, writer, lease_factor=64)
    assert await holds.hold(user_id, 1_000)
    holds.give_back([user_id])
    await writer.flush()
    assert await _reserved(engine, user_id) == 1_000  # only the call in flight stays held
    # the call's unspent 750 were held before the balance went down: they leave too
    released = holds.release(user_id, 1_000, 250)
    assert released == 1_000

"""Gateway processes' credit leases and their revocation watch, for the billing tests."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.revocations import RevocationWatch
from gatewayz.store.batch import BatchWriter
from gatewayz.store.engine import create_engine
from gatewayz.store.tables import users

CALL = 1_000
LEASE = 64 * CALL  # what the first call leases with lease_factor=64


@dataclass
class Process:
    """One gateway process's leases and their watch, on its own engine."""

    engine: AsyncEngine
    writer: BatchWriter
    holds: CreditHolds
    watch: RevocationWatch

    async def reserved(self, user_id: int) -> int:
        """The user's reserved units once this process's given-back leases are written."""
        await self.writer.flush()
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(users.c.reserved_units).where(users.c.id == user_id))
        return int(found)


@contextlib.asynccontextmanager
async def process(database_url: str, interval: float = 3600.0) -> AsyncIterator[Process]:
    engine = create_engine(database_url)
    writer = BatchWriter(engine, [("settlements", ledger.settle)], interval=60, max_batch=1000)
    holds = CreditHolds(engine, writer, lease_factor=64)
    watch = RevocationWatch(
        engine, holds, origin=uuid.uuid4().hex[:16], interval=interval, keep_seconds=60
    )
    await watch.start()
    try:
        yield Process(engine, writer, holds, watch)
    finally:
        await watch.stop()
        await holds.stop()
        await writer.stop()
        await engine.dispose()


async def debit(engine: AsyncEngine, user_id: int, units: int = 10**9) -> None:
    await ledger.change_credits(
        engine,
        user_id,
        -units,
        kind="admin_adjustment",
        reason="chargeback",
        idempotency_key=f"test:{uuid.uuid4()}",
    )


async def seconds_until(here: Process, user_id: int, reserved: int, most: float) -> float:
    """Seconds until the user's reserved units are `reserved` (fails after `most`)."""
    start = time.monotonic()
    while await here.reserved(user_id) != reserved:
        assert time.monotonic() - start < most, f"not given back within {most} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start

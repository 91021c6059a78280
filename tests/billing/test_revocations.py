"""Balance decreases reach the credit leases: at once in the process that made them, within
the poll interval in the others, and every lease once the decreases cannot be read."""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.revocations import (
    Cursor,
    newest_id,
    prune,
    read_new,
    record_revocation,
)
from gatewayz.store.engine import create_engine
from gatewayz.store.tables import credit_revocations
from tests.billing.lease_support import CALL, LEASE, debit, process, seconds_until
from tests.conftest import POSTGRES_URL, _empty_postgres, add_funded_user, require_service


async def _revoked_users(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        found = await conn.scalars(
            select(credit_revocations.c.user_id).order_by(credit_revocations.c.id)
        )
        return list(found)


async def test_a_negative_change_records_a_revocation_and_a_positive_one_does_not(
    engine: AsyncEngine,
) -> None:
    user_id, _ = await add_funded_user(engine, "down@example.com", "10")
    assert await _revoked_users(engine) == []
    await debit(engine, user_id)
    assert await _revoked_users(engine) == [user_id]


async def test_a_settlement_charging_past_its_hold_records_a_revocation(
    engine: AsyncEngine,
) -> None:
    within, _ = await add_funded_user(engine, "within@example.com", "10")
    past, _ = await add_funded_user(engine, "past@example.com", "10")
    assert await ledger.reserve(engine, within, 5_000)
    assert await ledger.reserve(engine, past, 5_000)
    async with engine.begin() as conn:
        await ledger.settle(
            conn,
            [
                ledger.Settlement(within, "r1", 5_000, 5_000, "m"),
                ledger.Settlement(past, "r2", 5_000, 9_000, "m"),  # cost 9_000, held 5_000
            ],
        )
    assert await _revoked_users(engine) == [past]


async def test_the_process_lowering_a_balance_gives_back_its_lease_before_returning(
    database_url: str,
) -> None:
    async with process(database_url) as here:  # it never polls: only the commit can tell it
        user_id, _ = await add_funded_user(here.engine, "same@example.com", "10")
        assert await here.holds.hold(user_id, CALL)
        assert await here.reserved(user_id) == LEASE
        await debit(here.engine, user_id)
        assert await here.reserved(user_id) == CALL  # only the call in flight stays held


async def test_a_decrease_that_rolls_back_leaves_the_lease(database_url: str) -> None:
    async with process(database_url) as here:
        user_id, _ = await add_funded_user(here.engine, "undone@example.com", "10")
        assert await here.holds.hold(user_id, CALL)
        with contextlib.suppress(RuntimeError):
            async with here.engine.begin() as conn:
                await record_revocation(conn, [user_id])
                raise RuntimeError("the change failed after its ledger row")
        assert await here.reserved(user_id) == LEASE
        assert await _revoked_users(here.engine) == []


async def test_a_statement_cancelled_mid_way_ends_with_the_cancellation() -> None:
    """A client leaving while its call waits on PostgreSQL cancels the statement: the call
    ends with that cancellation, not with an error from the rollback that follows it."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    await _empty_postgres()
    async with process(POSTGRES_URL) as here:

        async def read() -> None:
            async with here.engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(5)"))

        reading = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        async with here.engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1


async def test_another_process_gives_back_its_lease_within_the_poll_interval(
    database_url: str,
) -> None:
    async with process(database_url, interval=0.2) as there:
        user_id, _ = await add_funded_user(there.engine, "other@example.com", "10")
        assert await there.holds.hold(user_id, CALL)
        elsewhere = create_engine(database_url)  # the command line, a script
        try:
            await debit(elsewhere, user_id)
        finally:
            await elsewhere.dispose()
        # within one interval and one read; three intervals if a read is late
        assert await seconds_until(there, user_id, CALL, most=3 * 0.2 + 1) < 3 * 0.2 + 1


async def test_a_process_reads_past_its_own_decreases(database_url: str) -> None:
    async with process(database_url, interval=0.1) as here:
        user_id, _ = await add_funded_user(here.engine, "mine@example.com", "10")
        assert await here.holds.hold(user_id, CALL)
        await debit(here.engine, user_id)
        assert await here.holds.hold(user_id, CALL)  # leases again from what is left
        assert await here.reserved(user_id) == CALL + LEASE
        await asyncio.sleep(0.5)  # several reads of the decrease this process made itself
        assert await here.reserved(user_id) == CALL + LEASE  # the new lease was kept


async def test_rows_committed_out_of_id_order_are_all_read(engine: AsyncEngine) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite commits one writer at a time: its ids are in commit order")
    first, _ = await add_funded_user(engine, "slow@example.com", "10")
    second, _ = await add_funded_user(engine, "quick@example.com", "10")
    cursor = Cursor(await newest_id(engine), wait_seconds=60)
    async with engine.begin() as slow:
        await record_revocation(slow, [first])  # draws the lower id, commits last
        async with engine.begin() as quick:
            await record_revocation(quick, [second])
        assert await read_new(engine, cursor) == [(second, None)]
    assert await read_new(engine, cursor) == [(first, None)]
    assert await read_new(engine, cursor) == []


def test_the_cursor_waits_for_a_missing_id_then_gives_up_on_it() -> None:
    cursor = Cursor(low=10, wait_seconds=5)
    assert cursor.take([(11, 1, None), (13, 3, "p")], now=0) == [(1, None), (3, "p")]
    assert cursor.take([(13, 3, "p")], now=1) == []  # 12 is still looked for
    assert cursor.take([(12, 2, None), (13, 3, "p")], now=2) == [(2, None)]
    assert cursor.low == 13
    assert cursor.take([(15, 5, None)], now=3) == [(5, None)]
    assert cursor.take([], now=9) == []  # 14 waited for five seconds: a rollback
    assert cursor.low == 15
    assert cursor.take([(14, 4, None)], now=10) == []


async def test_old_revocations_are_pruned(engine: AsyncEngine) -> None:
    user_id, _ = await add_funded_user(engine, "old@example.com", "10")
    await debit(engine, user_id)
    async with engine.begin() as conn:
        await conn.execute(
            update(credit_revocations).values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
    await debit(engine, user_id)
    assert await prune(engine, keep_seconds=60) == 1
    assert await _revoked_users(engine) == [user_id]


async def _rename(engine: AsyncEngine, table: str, to: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {table} RENAME TO {to}"))


async def test_a_process_that_cannot_read_revocations_keeps_serving_only_its_lease(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """While the database cannot be read, calls go on from the free part of the lease (it
    cannot grow meanwhile, so no more is at stake than a stale lease holds); once it can,
    the process says so."""
    caplog.set_level(logging.WARNING, logger="gatewayz.billing.revocations")
    async with process(database_url, interval=0.1) as here:
        user_id, _ = await add_funded_user(here.engine, "blind@example.com", "10")
        assert await here.holds.hold(user_id, CALL)
        leased = await here.reserved(user_id)
        await _rename(here.engine, "credit_revocations", "revocations_away")
        try:
            await asyncio.sleep(0.5)  # five intervals without a read
            assert await here.holds.hold(user_id, CALL)  # served from the lease, no query
            assert await here.reserved(user_id) == leased  # nothing given back
        finally:
            await _rename(here.engine, "revocations_away", "credit_revocations")
        await asyncio.sleep(0.3)
    assert caplog.text.count("cannot read credit revocations") == 1
    assert "credit revocations are read again" in caplog.text

"""Credit leases: holds served from a per-process lease of the user's balance."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.hold_owners import HoldOwner, HoldSettings
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


async def test_a_hold_cancelled_after_a_revocation_is_given_back_to_the_balance(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "refused@example.com", "10")
    holds = CreditHolds(engine, writer, lease_factor=64)
    assert await holds.hold(user_id, 1_000)  # a call running when the balance goes down
    holds.give_back([user_id])
    assert await holds.hold(user_id, 1_000)  # a call admitted after, then refused by its key
    holds.cancel(user_id, 1_000)
    spent = holds.release(user_id, 1_000, 250)  # the first call ends
    settled = ledger.Settlement(user_id, "first", released_units=spent, cost_units=250, reason="t")
    writer.add("settlements", settled)
    holds.release_idle(now=float("inf"))
    await writer.flush()
    assert await _reserved(engine, user_id) == 0


@pytest.mark.parametrize("owned", [False, True], ids=["unowned", "owned"])
async def test_a_call_cancelled_while_its_lease_grows_leaves_nothing_reserved(
    owned: bool, engine: AsyncEngine, writer: BatchWriter
) -> None:
    """The call is cancelled (its client disconnected) after 0, 1, 2... turns of the event
    loop, so across the runs the cancellation lands at every step of the lease's growth:
    waiting for a connection, in the UPDATE, in the commit, returning the connection."""
    user_id, _ = await add_funded_user(engine, "gone@example.com", "10")
    owner = HoldOwner(engine, HoldSettings(heartbeat_seconds=3600))
    await owner.start()
    left = []
    for turns in range(60):
        holds = CreditHolds(engine, writer, lease_factor=64, owner=owner.id if owned else None)
        call = asyncio.ensure_future(holds.hold(user_id, 1_000))
        for _ in range(turns):
            await asyncio.sleep(0)
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            if await call:  # held before the cancellation landed: the call ends unserved
                holds.release(user_id, 1_000, 0)
        await holds.stop()
        await writer.flush()
        left.append(await _reserved(engine, user_id))
    assert left == [0] * 60
    await owner.stop()


async def test_a_revocation_reaches_a_growth_in_flight(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "growing@example.com", "10")
    holds = CreditHolds(engine, writer, lease_factor=4)
    for _ in range(4):  # the fourth call empties the lease: a top-up starts
        assert await holds.hold(user_id, 1_000)
    holds.give_back([user_id])  # the balance went down while the top-up is in flight
    await holds.growths_landed()
    await writer.flush()
    assert await _reserved(engine, user_id) == 4_000  # only the calls in flight stay held


async def test_the_free_part_of_a_lease_stays_within_its_share_of_the_balance(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "share@example.com", "0.001")  # 1_000_000
    holds = CreditHolds(engine, writer, lease_factor=256, share=0.1)
    for _ in range(50):
        assert await holds.hold(user_id, 1_000)
        await holds.growths_landed()
        reserved = await _reserved(engine, user_id)
        in_flight = 1_000
        assert reserved - in_flight <= 100_000  # 10% of what no call holds
        holds.release(user_id, 1_000, 0)
    assert await holds.hold(user_id, 200_000)  # a call larger than the share still holds
    assert not await holds.hold(user_id, 900_000)  # but never more than the balance


async def test_calls_waiting_for_a_small_lease_are_all_served_while_the_balance_lasts(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "queue@example.com", "0.00003")  # 30 calls
    holds = CreditHolds(engine, writer, lease_factor=256, share=0.1)  # each growth: ~3 calls
    held = await asyncio.gather(*(holds.hold(user_id, 1_000) for _ in range(100)))
    assert held.count(True) == 30
    assert await _reserved(engine, user_id) == 30_000


async def test_a_refusal_is_remembered_so_retries_without_credit_cost_no_queries(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "broke@example.com", "0")
    holds = CreditHolds(engine, writer, lease_factor=64, refusal_seconds=1.0)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        assert not await holds.hold(user_id, 1_000)
        assert statements, "the first refusal asks the database"
        statements.clear()
        assert not await holds.hold(user_id, 1_000)
        assert not await holds.hold(user_id, 5_000)
        assert statements == [], "as much or more is refused from memory"
        holds.release_idle()  # the idle sweep keeps what it remembers
        assert not await holds.hold(user_id, 1_000)
        assert statements == []
        assert not await holds.hold(user_id, 10)
        assert statements, "a smaller hold may fit: the database is asked again"
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    await ledger.change_credits(
        engine, user_id, 10**6, kind="grant", reason="test", idempotency_key="test:topped-up"
    )
    assert not await holds.hold(user_id, 1_000), "within the moment, still refused"
    await asyncio.sleep(1.1)
    assert await holds.hold(user_id, 1_000), "credits added serve from the moment's end on"


async def test_a_lease_remembering_a_refusal_still_gives_back_its_unused_credit(
    engine: AsyncEngine, writer: BatchWriter
) -> None:
    user_id, _ = await add_funded_user(engine, "half@example.com", "10")
    holds = CreditHolds(engine, writer, lease_factor=64, refusal_seconds=3600)
    assert await holds.hold(user_id, 1_000)
    assert not await holds.hold(user_id, 10**15)
    holds.release(user_id, 1_000, 0)
    holds.release_idle(now=time.monotonic() + 10)
    await writer.flush()
    assert await _reserved(engine, user_id) == 0, "the idle lease's credit went back"
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert not await holds.hold(user_id, 10**15)
    assert statements == [], "and the refusal is still remembered"

"""The database goes away while a gateway serves calls: settlements and request-log rows wait
(in memory, then in the journal) and land exactly once when it is back, also through a
restart, and also when a commit's outcome was lost on the way."""

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.hold_owners import reclaim
from gatewayz.store.tables import ledger as ledger_table
from gatewayz.store.tables import process_holds, request_logs
from tests.conftest import serve
from tests.e2e.conftest import e2e_settings
from tests.e2e.support import HI, HI_COST, Caller, new_caller
from tests.fakes.db_outage import DatabaseOutage, answer_lost_after_commit, database_outage
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CHAT = "/v1/chat/completions"


@pytest.fixture
async def outage(database_url: str) -> AsyncIterator[DatabaseOutage]:
    async with database_outage(database_url) as made:
        yield made


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal"


def _settings(outage: DatabaseOutage, upstream: FakeOpenAIUpstream, journal: Path) -> Any:
    return e2e_settings(outage.url, upstream, journal_dir=journal, **outage.settings)


async def _call(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, json={"model": "fake-model", "messages": HI})
    assert response.status_code == 200, response.text


async def _waiting_rows(http: httpx.AsyncClient) -> dict[str, float]:
    page = (await http.get("/metrics")).text
    found = re.findall(r'^gatewayz_writer_waiting_rows\{place="(\w+)"\} (\S+)$', page, re.M)
    return {place: float(value) for place, value in found}


async def _calls_during_outage(caller: Caller, outage: DatabaseOutage, calls: int) -> None:
    """One call before the outage (it authenticates the key and leases credit), then
    `calls` calls over about three seconds while the database cannot be reached."""
    async with caller.http() as http:
        await _call(http)
        await caller.services.writer.flush()  # (the lease stays: later calls need no query)
        await outage.begin()
        for _ in range(calls):
            await _call(http)
            await asyncio.sleep(3.0 / calls)


async def _held(engine: AsyncEngine, user_id: int) -> list[int]:
    """What the gateway processes record as held for the user (never below zero)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(process_holds.c.units).where(
                process_holds.c.kind == "user", process_holds.c.subject_id == user_id
            )
        )
        return [int(units) for (units,) in rows]


async def _logs(engine: AsyncEngine, user_id: int) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(request_logs.c.request_id).where(request_logs.c.user_id == user_id)
        )
        return [request_id for (request_id,) in rows]


async def _ledger_sum(engine: AsyncEngine, user_id: int) -> int:
    async with engine.connect() as conn:
        total = await conn.scalar(
            select(func.coalesce(func.sum(ledger_table.c.amount_units), 0)).where(
                ledger_table.c.user_id == user_id
            )
        )
        return int(total)


async def test_rows_wait_through_an_outage_and_land_once(
    outage: DatabaseOutage,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    journal: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve(_settings(outage, upstream, journal)) as (base_url, state):
        caller = await new_caller(base_url, engine, state, upstream, outage.url)
        caller = dataclasses.replace(caller, engine=engine)
        await _calls_during_outage(caller, outage, calls=8)
        async with httpx.AsyncClient(base_url=base_url) as http:
            waiting = await _waiting_rows(http)
            assert sum(waiting.values()) >= 16, waiting  # a settlement and a log row a call
            await asyncio.sleep(3.0)  # past the 5 s after which rows wait in the journal
            assert (await _waiting_rows(http))["journal"] >= 16
            await outage.end()
            logs = await caller.assert_books(calls=9, charged=9 * HI_COST)
            assert len({log["request_id"] for log in logs}) == 9
            assert await _waiting_rows(http) == {"memory": 0, "journal": 0}
        assert await _held(engine, caller.user_id) == [0]
    said = [r.getMessage() for r in caplog.records if r.name.startswith("gatewayz.store")]
    assert sum("the database cannot be reached" in m for m in said) == 1, "once, not per try"
    assert sum("the database can be reached again" in m for m in said) == 1


async def test_a_gateway_stopped_during_an_outage_leaves_a_journal_the_next_one_replays(
    outage: DatabaseOutage, engine: AsyncEngine, upstream: FakeOpenAIUpstream, journal: Path
) -> None:
    settings = _settings(outage, upstream, journal)
    async with serve(settings) as (base_url, state):
        caller = await new_caller(base_url, engine, state, upstream, outage.url)
        caller = dataclasses.replace(caller, engine=engine)
        await _calls_during_outage(caller, outage, calls=5)
    [left] = journal.glob("gatewayz-journal-*.jsonl")  # stopped while the database was down
    await outage.end()
    assert len(await _logs(engine, caller.user_id)) == 1, "only the call before the outage"

    async with serve(settings) as (base_url, state):
        assert len(await _logs(engine, caller.user_id)) == 6, "replayed before it serves"
        assert not left.exists()
        replayed = dataclasses.replace(caller, base_url=base_url, services=state)
        await replayed.assert_books(calls=6, charged=6 * HI_COST)
    assert await _held(engine, caller.user_id) == [0]


async def test_a_replayed_journal_does_not_give_back_holds_a_reclaim_gave_back(
    outage: DatabaseOutage, engine: AsyncEngine, upstream: FakeOpenAIUpstream, journal: Path
) -> None:
    """The stopped gateway's holds are reclaimed before its journal is replayed: its calls
    are still charged, but what they held is not given back twice (which would free credit
    another call holds)."""
    settings = _settings(outage, upstream, journal)
    async with serve(settings) as (base_url, state):
        caller = await new_caller(base_url, engine, state, upstream, outage.url)
        caller = dataclasses.replace(caller, engine=engine)
        await _calls_during_outage(caller, outage, calls=5)
    await outage.end()
    [reclaimed] = await reclaim(engine, stale_seconds=0)  # as `gatewayz holds reclaim`
    assert reclaimed.units > 0
    assert await ledger.reserve(engine, caller.user_id, 1_000_000)  # another call's hold

    async with serve(settings) as (base_url, state):
        user = await caller.user()
        assert user.reserved_units == 1_000_000, "the other hold is intact"
        assert user.balance_units == caller.start_units - 6 * HI_COST
        assert user.balance_units == await _ledger_sum(engine, caller.user_id)
        assert len(await _logs(engine, caller.user_id)) == 6


async def test_a_commit_whose_answer_is_lost_is_applied_once(
    outage: DatabaseOutage,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    journal: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database commits a batch but the gateway never hears back (the connection is cut
    during COMMIT): the batch is tried again and found committed, so the call is logged and
    charged once and its hold released once."""
    async with serve(_settings(outage, upstream, journal)) as (base_url, state):
        caller = await new_caller(base_url, engine, state, upstream, outage.url)
        caller = dataclasses.replace(caller, engine=engine)
        async with caller.http() as http:
            await _call(http)
            await state.writer.flush()
            assert await ledger.reserve(engine, caller.user_id, 1_000_000)  # another hold
            async with _commit_answer_lost(outage, engine, state):
                await _call(http)
            await caller.logs(2)
        user = await caller.user()
        assert user.balance_units == caller.start_units - 2 * HI_COST
        assert user.balance_units == await _ledger_sum(engine, caller.user_id)
        assert len(await caller.usage_rows()) == 2
        assert user.reserved_units == 1_000_000, "the other hold is intact"
        assert await _held(engine, caller.user_id) == [0]
    assert "was committed already; it is not applied again" in caplog.text


@asynccontextmanager
async def _commit_answer_lost(
    outage: DatabaseOutage, engine: AsyncEngine, state: Any
) -> AsyncIterator[None]:
    """The next batch of request-log rows the gateway commits is committed, but the gateway
    never learns it: on PostgreSQL the connection is cut while the server commits (slowed by
    a deferred trigger); on SQLite the driver reports an I/O error after the commit."""
    if engine.dialect.name == "sqlite":
        with answer_lost_after_commit(state.engine, "INSERT INTO request_logs") as lost:
            yield
            await asyncio.wait_for(lost.wait(), 5)
        return
    async with engine.begin() as conn:
        await conn.execute(text(_SLOW_COMMIT))
        await conn.execute(text(_SLOW_COMMIT_TRIGGER))
    try:
        yield
        async with engine.connect() as conn:
            for _ in range(250):
                if await conn.scalar(text(_COMMITTING)):
                    break
                await conn.rollback()  # the next look sees the server's activity afresh
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the gateway committed no request-log row")
        outage.drop_connections()
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER slow_commit ON request_logs"))
            await conn.execute(text("DROP FUNCTION slow_commit()"))


_SLOW_COMMIT = """
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$
"""
_SLOW_COMMIT_TRIGGER = """
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON request_logs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()
"""
_COMMITTING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND wait_event = 'PgSleep'
"""

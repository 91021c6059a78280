"""The batch writer: rows written off the request path, in one transaction, never dropped."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing import ledger, settlement_sink
from gatewayz.billing.hold_owners import HoldOwner, HoldSettings
from gatewayz.store.batch import BatchWriter, Sink
from gatewayz.store.engine import create_engine
from gatewayz.store.journal import dead_letter_path, journal_location
from gatewayz.store.tables import process_holds, request_logs, users
from gatewayz.telemetry.request_log import RequestLogRow, write
from tests.conftest import add_funded_user
from tests.fakes.db_outage import (
    SQLITE_BUSY_SECONDS,
    DatabaseOutage,
    answer_lost_after_commit,
    database_outage,
)

_QUICK: dict[str, Any] = {"interval": 60, "max_batch": 1000}


def _row(request_id: str) -> RequestLogRow:
    return RequestLogRow(
        request_id=request_id,
        user_id=1,
        key_id=1,
        api="chat",
        model="m",
        provider="p",
        provider_model="m",
        stream=False,
        status_code=200,
        error=None,
        input_tokens=3,
        output_tokens=5,
        usage_estimated=False,
        cost_units=46_000,
        latency_ms=12,
        ttft_ms=None,
        created_at=datetime.now(UTC),
    )


async def _stored(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(request_logs.c.request_id).order_by(request_logs.c.id))
        return [r[0] for r in rows]


async def test_rows_are_written_on_flush(engine: AsyncEngine) -> None:
    writer = BatchWriter(engine, [("logs", write)], interval=60, max_batch=1000)
    await writer.start()
    try:
        for i in range(3):
            writer.add("logs", _row(f"r{i}"))
        assert await _stored(engine) == []
        await writer.flush()
        assert await _stored(engine) == ["r0", "r1", "r2"]
    finally:
        await writer.stop()
    assert await _stored(engine) == ["r0", "r1", "r2"], "stop must not write rows twice"


async def test_rows_are_written_in_the_background(engine: AsyncEngine) -> None:
    writer = BatchWriter(engine, [("logs", write)], interval=0.02, max_batch=1000)
    await writer.start()
    try:
        writer.add("logs", _row("bg"))
        for _ in range(200):
            if await _stored(engine):
                break
            await asyncio.sleep(0.01)
        assert await _stored(engine) == ["bg"]
    finally:
        await writer.stop()


async def test_pending_rows_are_written_on_stop(engine: AsyncEngine) -> None:
    writer = BatchWriter(engine, [("logs", write)], interval=60, max_batch=1000)
    await writer.start()
    for i in range(250):
        writer.add("logs", _row(f"r{i}"))
    await writer.stop()
    assert await _stored(engine) == [f"r{i}" for i in range(250)]


def test_unknown_sink_is_refused(engine: AsyncEngine) -> None:
    writer = BatchWriter(engine, [("logs", write)], interval=60, max_batch=1000)
    with pytest.raises(KeyError):
        writer.add("nope", _row("x"))


async def test_sinks_run_in_registration_order_in_one_transaction(engine: AsyncEngine) -> None:
    seen: list[tuple[str, list[Any], int]] = []

    def recording(name: str):
        async def sink(conn: AsyncConnection, rows: list[Any]) -> None:
            visible = len((await conn.execute(select(request_logs.c.id))).all())
            seen.append((name, rows, visible))
            if name == "logs":
                await write(conn, rows)

        return sink

    writer = BatchWriter(
        engine,
        [("logs", recording("logs")), ("after", recording("after"))],
        interval=60,
        max_batch=1000,
    )
    writer.add("after", "a1")
    writer.add("logs", _row("l1"))
    writer.add("after", "a2")
    writer.add("logs", _row("l2"))
    await writer.flush()
    assert [name for name, _, _ in seen] == ["logs", "after"]
    assert [r.request_id for r in seen[0][1]] == ["l1", "l2"]
    assert seen[1][1] == ["a1", "a2"]
    assert seen[1][2] == 2, "the second sink sees the first sink's rows in its transaction"


async def test_a_failed_batch_is_rolled_back_and_retried(engine: AsyncEngine) -> None:
    failures = [RuntimeError("database hiccup")]

    async def flaky(conn: AsyncConnection, rows: list[Any]) -> None:
        if failures:
            raise failures.pop()

    writer = BatchWriter(engine, [("logs", write), ("flaky", flaky)], interval=60, max_batch=1000)
    writer.add("logs", _row("r1"))
    writer.add("flaky", "x")
    await writer.flush()
    assert await _stored(engine) == ["r1"], "rolled back once, written once"


async def test_a_bad_row_does_not_hold_back_the_good_ones(engine: AsyncEngine) -> None:
    accepted: list[str] = []

    async def picky(conn: AsyncConnection, rows: list[str]) -> None:
        if "poison" in rows:
            raise ValueError("cannot store poison")
        accepted.extend(rows)

    writer = BatchWriter(engine, [("logs", write), ("picky", picky)], interval=60, max_batch=1000)
    writer.add("logs", _row("good-1"))
    writer.add("picky", "fine")
    writer.add("picky", "poison")
    writer.add("logs", _row("good-2"))
    await writer.flush()
    assert await _stored(engine) == ["good-1", "good-2"]
    assert accepted == ["fine"]


# Through outages and restarts: rows wait (in memory, then in the journal) and are written
# once; what the database refuses is set aside, never silently.

SINKS = [Sink("logs", write, (RequestLogRow,))]


@pytest.fixture
async def outage(database_url: str) -> AsyncIterator[DatabaseOutage]:
    async with database_outage(database_url) as made:
        yield made


@pytest.fixture
async def gateway_engine(outage: DatabaseOutage) -> AsyncIterator[AsyncEngine]:
    """The engine of the process whose database goes away."""
    engine = create_engine(outage.url, sqlite_busy_timeout=SQLITE_BUSY_SECONDS)
    yield engine
    await engine.dispose()


def _journaling(engine: AsyncEngine, tmp_path: Path, **options: Any) -> BatchWriter:
    place = journal_location(str(engine.url), tmp_path / "journal")
    values: dict[str, Any] = {"interval": 0.02, "max_batch": 1000, "journal": place}
    return BatchWriter(engine, SINKS, **(values | options))


def _journal_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "journal").glob("gatewayz-journal-*.jsonl"))


def _journaled_rows(path: Path) -> int:
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return sum(len(line["rows"]) for line in lines if "rows" in line)


async def test_past_the_memory_bound_rows_wait_in_the_journal_until_the_database_is_back(
    engine: AsyncEngine, gateway_engine: AsyncEngine, outage: DatabaseOutage, tmp_path: Path
) -> None:
    writer = _journaling(gateway_engine, tmp_path, memory_rows=4)
    await writer.start()
    await outage.begin()
    for i in range(10):
        writer.add("logs", _row(f"r{i}"))
    for _ in range(200):
        files = _journal_files(tmp_path)
        if files and _journaled_rows(files[0]) >= 6:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("rows past the memory bound were not journaled")
    await asyncio.sleep(0.5)  # the writer keeps trying meanwhile
    await outage.end()
    await writer.flush()
    assert sorted(await _stored(engine)) == sorted(f"r{i}" for i in range(10))
    await writer.stop()
    assert _journal_files(tmp_path) == [], "a written journal is removed"
    assert await _stored(engine) == sorted(await _stored(engine), key=lambda r: int(r[1:]))


async def test_rows_a_stopped_writer_journaled_are_replayed_by_the_next_one(
    engine: AsyncEngine, gateway_engine: AsyncEngine, outage: DatabaseOutage, tmp_path: Path
) -> None:
    writer = _journaling(gateway_engine, tmp_path)
    await writer.start()
    writer.add("logs", _row("before"))
    await writer.flush()
    await outage.begin()
    for i in range(5):
        writer.add("logs", _row(f"r{i}"))
    await writer.stop()
    [journal] = _journal_files(tmp_path)
    assert _journaled_rows(journal) == 5
    await outage.end()
    assert await _stored(engine) == ["before"]

    again = _journaling(gateway_engine, tmp_path)
    await again.start()
    assert await _stored(engine) == ["before", "r0", "r1", "r2", "r3", "r4"], "before start ends"
    assert not journal.exists()
    await again.stop()


async def test_a_journaled_batch_whose_commit_landed_is_not_applied_again(
    engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The commit's answer is lost and the writer stops before it can try again: the batch
    goes to the journal with its number, and the next writer finds it committed."""
    writer = _journaling(engine, tmp_path)
    await writer.start()
    with answer_lost_after_commit(engine, "INSERT INTO request_logs") as lost:
        writer.add("logs", _row("once"))
        await asyncio.wait_for(lost.wait(), 5)
        await writer.stop()
    assert len(_journal_files(tmp_path)) == 1
    assert await _stored(engine) == ["once"]

    again = _journaling(engine, tmp_path)
    await again.start()
    await again.stop()
    assert await _stored(engine) == ["once"]
    assert "was committed already; it is not applied again" in caplog.text
    assert _journal_files(tmp_path) == []


async def test_holds_released_in_a_batch_whose_commit_answer_was_lost_are_released_once(
    engine: AsyncEngine,
) -> None:
    user_id, _ = await add_funded_user(engine, "lost@example.com", "1")
    owner = HoldOwner(engine, HoldSettings(heartbeat_seconds=3600))
    await owner.start()
    assert await ledger.reserve(engine, user_id, 5_000, owner.id)
    assert await ledger.reserve(engine, user_id, 1_000)  # another call's hold, no owner
    writer = BatchWriter(engine, [("settlements", settlement_sink.settle)], **_QUICK)
    with answer_lost_after_commit(engine, "UPDATE process_holds") as lost:
        writer.add("settlements", ledger.HoldRelease(user_id, 3_000, owner.id))
        await writer.flush()
    assert lost.is_set()
    async with engine.connect() as conn:
        reserved = await conn.scalar(select(users.c.reserved_units).where(users.c.id == user_id))
        held = await conn.scalar(
            select(process_holds.c.units).where(process_holds.c.process_id == owner.id)
        )
    assert (reserved, held) == (3_000, 2_000)
    await writer.stop()


async def test_a_row_the_database_refuses_is_set_aside_with_an_error(
    engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def picky(conn: AsyncConnection, rows: list[RequestLogRow]) -> None:
        if any(row.request_id == "poison" for row in rows):
            raise ValueError("cannot store poison")
        await write(conn, rows)

    place = journal_location(str(engine.url), tmp_path / "journal")
    writer = BatchWriter(engine, [Sink("logs", picky, (RequestLogRow,))], **_QUICK, journal=place)
    rows = [_row("good-1"), _row("poison"), _row("good-2"), _row("good-3")]
    for row in rows:
        writer.add("logs", row)
    await writer.flush()
    assert await _stored(engine) == ["good-1", "good-2", "good-3"]
    [letter] = [orjson.loads(line) for line in dead_letter_path(place).read_bytes().splitlines()]
    assert (letter["sink"], letter["type"], letter["row"]["request_id"]) == (
        "logs",
        "RequestLogRow",
        "poison",
    )
    assert "cannot store poison" in letter["error"]
    assert "the database refused a logs row 3 times" in caplog.text
    await writer.stop()

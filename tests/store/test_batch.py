"""The batch writer: rows written off the request path, in one transaction, never dropped."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.store.batch import BatchWriter
from gatewayz.store.tables import request_logs
from gatewayz.telemetry.request_log import RequestLogRow, write


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

"""Writes rows off the request path in batches: one transaction per batch, never dropped."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

SinkWrite = Callable[[AsyncConnection, list[Any]], Awaitable[None]]


class BatchWriter:
    """Collects rows for named sinks and writes them together every `interval` seconds.

    Sinks are written in the order they were registered, all in one transaction. A batch
    that fails is retried; if it keeps failing, each row is retried on its own so one bad
    row cannot hold back the rest. Rows still pending at shutdown are written by `stop`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sinks: Sequence[tuple[str, SinkWrite]],
        *,
        interval: float,
        max_batch: int,
    ) -> None:
        self._engine = engine
        self._sinks = dict(sinks)
        self._interval = interval
        self._max_batch = max_batch
        self._pending: list[tuple[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._stopping = False

    def add(self, sink: str, row: Any) -> None:
        """Queue one row; never blocks the caller."""
        if sink not in self._sinks:
            raise KeyError(f"unknown sink {sink!r}")
        self._pending.append((sink, row))
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gatewayz-batch-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        while self._pending:
            await self.flush()

    async def flush(self) -> None:
        """Write everything queued so far."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            if batch:
                await self._write(batch)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def _write(self, batch: list[tuple[str, Any]]) -> None:
        for attempt in range(3):
            try:
                await self._write_once(batch)
                return
            except Exception:
                log.exception("batch write failed (attempt %d, %d rows)", attempt + 1, len(batch))
                await asyncio.sleep(0.1 * 2**attempt)
        for item in batch:
            try:
                await self._write_once([item])
            except Exception:
                log.exception("row could not be written: sink=%s row=%r", item[0], item[1])

    async def _write_once(self, batch: list[tuple[str, Any]]) -> None:
        grouped: dict[str, list[Any]] = {name: [] for name in self._sinks}
        for sink, row in batch:
            grouped[sink].append(row)
        async with self._engine.begin() as conn:
            for name, write in self._sinks.items():
                if grouped[name]:
                    await write(conn, grouped[name])

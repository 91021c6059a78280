"""Writes rows off the request path in batches: one transaction per batch, each batch applied
exactly once, no row dropped.

Rows wait in memory. Past `memory_rows` of them, or once the database has been unreachable
for `journal_after` seconds, they wait in this process's journal on disk instead
(store.journal), and the batches there are written, in order, before newer rows. A batch that
fails because the database cannot be reached is retried unchanged, backing off up to
MAX_BACKOFF seconds, for as long as it takes. A batch the database refuses while it still
takes a probe write is split in halves until the refused row is alone; refused ROW_ATTEMPTS
times, that row is set aside in the dead-letter file with an error in the log. Each batch is
committed under its writer's id and sequence number (store.batch_claims), so a batch whose
commit outcome was lost, retried or replayed, is applied once. At shutdown, what the
database cannot take goes to the journal; the next gateway started on the same database
replays it before it serves.
"""

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.batch_attempt import (
    Batch,
    CommitUnknown,
    Item,
    OutageLog,
    Sink,
    SinkWrite,
    answers,
    attempt,
    describe,
    unreachable,
)
from gatewayz.store.batch_journal import JournalCodec, OwnJournal, replay_orphans
from gatewayz.store.journal import JournalPlace

__all__ = ["BatchWriter", "JournalPlace", "Sink", "SinkWrite"]

log = logging.getLogger(__name__)

MIN_BACKOFF, MAX_BACKOFF = 0.05, 5.0
ROW_ATTEMPTS = 3


class BacklogObserver(Protocol):
    def writer_backlog(self, memory: int, journal: int) -> None: ...
    def writer_set_aside(self, rows: int) -> None: ...


class BatchWriter:
    """Collects rows for named sinks and writes them together every `interval` seconds.

    Sinks are written in the order they were registered, all in one transaction. Without a
    journal (tests of other parts), rows wait in memory only and rows set aside are logged.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sinks: Sequence[Sink | tuple[str, SinkWrite]],
        *,
        interval: float,
        max_batch: int,
        journal: JournalPlace | None = None,
        memory_rows: int = 20_000,
        journal_after: float = 5.0,
        stop_seconds: float = 10.0,
        observer: BacklogObserver | None = None,
    ) -> None:
        self.id = secrets.token_hex(8)
        self._engine = engine
        self._sinks = [s if isinstance(s, Sink) else Sink(*s) for s in sinks]
        self._names = {sink.name for sink in self._sinks}
        self._interval, self._max_batch = interval, max_batch
        self._memory_rows, self._journal_after = memory_rows, journal_after
        self._stop_seconds = stop_seconds
        self._codec = JournalCodec(self._sinks, journal) if journal is not None else None
        self._own = OwnJournal(self._codec, self.id) if self._codec is not None else None
        self._observer = observer
        self._memory: deque[Item] = deque()
        self._retry: deque[Batch] = deque()
        self._current: Batch | None = None
        self._journal_lock = self._own.lock if self._own is not None else asyncio.Lock()
        self._outage = OutageLog()
        self._delay = MIN_BACKOFF
        self._seq = 0
        self._added = self._resolved = 0
        self._wake, self._spill_wake = asyncio.Event(), asyncio.Event()
        self._stop_event, self._progress = asyncio.Event(), asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = self._stopped = False

    def add(self, sink: str, row: Any) -> None:
        """Queue one row; never blocks the caller."""
        if sink not in self._names:
            raise KeyError(f"unknown sink {sink!r}")
        if self._codec is not None and not self._codec.rows.accepts(sink, row):
            raise TypeError(f"sink {sink!r} does not take {type(row).__name__} rows")
        if self._stopped:
            log.error("a %s row was queued after the batch writer stopped: %r", sink, row)
        self._memory.append((sink, row))
        self._added += 1
        if len(self._memory) >= self._max_batch:
            self._wake.set()
        if len(self._memory) > self._memory_rows:
            self._spill_wake.set()

    async def start(self) -> None:
        """Replay the journals of stopped processes of this database, then write in the
        background."""
        if self._codec is not None:
            await replay_orphans(self._engine, self._codec, self._replay_one)
        self._tasks.append(asyncio.create_task(self._run(), name="gatewayz-batch-writer"))
        if self._codec is not None:
            self._tasks.append(asyncio.create_task(self._spill_loop(), name="gatewayz-journal"))

    async def flush(self) -> None:
        """Write everything queued so far (waiting for the database if it cannot be reached)."""
        target = self._added
        if not self._tasks:
            await self._drain()
            return
        while self._resolved < target:
            self._progress.clear()
            self._wake.set()
            await self._progress.wait()

    async def stop(self) -> None:
        """Write what is queued while the database takes it (for up to `stop_seconds`), and
        journal the rest."""
        self._stopping = True
        self._stop_event.set()
        self._wake.set()
        self._spill_wake.set()
        runner = self._tasks[0] if self._tasks else asyncio.ensure_future(self._drain())
        done, _ = await asyncio.wait({runner}, timeout=self._stop_seconds)
        if not done:
            runner.cancel()
        await asyncio.gather(runner, *self._tasks[1:], return_exceptions=True)
        self._tasks = []
        if self._own is not None and self._unjournaled_rows():
            await self._spill()
        if lost := self._unjournaled_rows():
            log.error("%d rows could be neither written nor journaled and are lost", lost)
        if self._own is not None:
            await self._own.close()
        self._stopped = True
        self._report()

    # The writing loop

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self._drain()
            except Exception:  # the journal or the dead-letter file failed: go on
                log.exception("the batch writer failed; it tries again")
                await self._pause()
            if self._stopping:
                return

    async def _drain(self) -> None:
        """Write batches until nothing waits, or until the database cannot be reached while
        the writer is stopping."""
        while (batch := await self._next_batch()) is not None:
            if await self._resolve(batch):
                self._current = None
            elif self._stopping and self._outage.since is not None:
                return
            self._report()

    async def _next_batch(self) -> Batch | None:
        if self._current is not None:
            return self._current
        if self._own is not None and self._own.active:
            async with self._journal_lock:
                batch, unreadable = await self._own.next()
            self._resolved += unreadable
            if batch is not None:
                self._current = batch
                return batch
        if self._retry:
            self._current = self._retry.popleft()
        elif self._memory:
            self._current = self._form()
        return self._current

    async def _resolve(self, batch: Batch) -> bool:
        """One attempt at the batch; True once it needs no more (written, found written,
        split, or set aside), False to try it again (after a pause if the database cannot be
        reached)."""
        if batch.seq is None:
            batch.seq = self._next_seq()
        try:
            written = await attempt(self._engine, self._sinks, batch)
        except Exception as exc:
            unknown = isinstance(exc, CommitUnknown)
            if unknown:
                log.warning(
                    "the commit of batch %d of writer %s (%d rows) was cut off (%s): it is "
                    "tried again, and applied only if it was not committed",
                    batch.seq,
                    batch.writer,
                    len(batch.items),
                    exc,
                )
            if unknown or unreachable(exc) or not await answers(self._engine, self.id):
                self._outage.unreachable(exc, self._waiting_rows(), self._journal_rows())
                await self._pause()
                return False
            self._outage.reachable(self._waiting_rows())
            return await self._refused(batch, exc)
        self._outage.reachable(self._waiting_rows())
        self._delay = MIN_BACKOFF
        if not written:
            log.warning(
                "batch %d of writer %s (%d rows) was committed already; it is not applied again",
                batch.seq,
                batch.writer,
                len(batch.items),
            )
        await self._finished(batch)
        return True

    async def _refused(self, batch: Batch, exc: BaseException) -> bool:
        """The database refused the batch: write it in halves, or set its one row aside."""
        if len(batch.items) > 1:
            log.warning(
                "the database refused a batch of %d rows (%s): writing it in halves",
                len(batch.items),
                describe(exc),
            )
            await self._split(batch)
            return True
        batch.refusals += 1
        if batch.refusals < ROW_ATTEMPTS:
            return False
        sink, row = batch.items[0]
        if self._codec is None:
            log.error(
                "the database refused a %s row (%s); it is lost: %r", sink, describe(exc), row
            )
        else:
            await asyncio.to_thread(self._codec.set_aside, batch, describe(exc))
            log.error(
                "the database refused a %s row %d times (%s); it was set aside in %s",
                sink,
                ROW_ATTEMPTS,
                describe(exc),
                self._codec.dead_letters.path,
            )
        if self._observer is not None:
            self._observer.writer_set_aside(1)
        await self._finished(batch)
        return True

    async def _split(self, batch: Batch) -> None:
        """Replace the batch by its two halves, to be written next (from memory), or at the
        end of its journal. The lock is taken first: the journal may be taking the batch."""
        middle = len(batch.items) // 2
        halves = [batch.items[:middle], batch.items[middle:]]
        async with self._journal_lock:
            journal, ref = batch.journal, batch.ref
            if journal is None or ref is None:
                self._retry.extendleft(reversed([self._batch(items) for items in halves]))
                return
            assert self._codec is not None
            if batch.writer == self.id:  # numbered after every batch in the journal
                seqs = [self._next_seq(), self._next_seq()]
            else:  # a stopped process's batch: its sequence goes on in its journal
                seqs = [journal.max_seq + 1, journal.max_seq + 2]
            parts = [
                Batch(items, batch.writer, seq, batch.created)
                for items, seq in zip(halves, seqs, strict=True)
            ]
            encoded = [self._codec.encode(part) for part in parts]
            await asyncio.to_thread(journal.split, ref, encoded)

    async def _finished(self, batch: Batch) -> None:
        async with self._journal_lock:
            if batch.journal is not None and batch.ref is not None:
                await asyncio.to_thread(batch.journal.done, batch.ref)
        if batch.counted:
            self._resolved += len(batch.items)
            self._progress.set()

    async def _pause(self) -> None:
        """Back off before the next attempt (cut short when the writer stops)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), self._delay)
        self._delay = min(MAX_BACKOFF, self._delay * 2)

    async def _replay_one(self, batch: Batch) -> None:
        """Write one batch of a stopped process's journal, however long it takes."""
        while not await self._resolve(batch):
            pass

    # Batches and the journal

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _batch(self, items: list[Item]) -> Batch:
        return Batch(items, self.id, None, datetime.now(UTC))

    def _form(self) -> Batch:
        count = min(self._max_batch, len(self._memory))
        return self._batch([self._memory.popleft() for _ in range(count)])

    async def _spill_loop(self) -> None:
        """Move waiting rows to the journal when there are too many of them, or when the
        database has been unreachable for `journal_after` seconds."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._spill_wake.wait(), self._interval)
            self._spill_wake.clear()
            outage = self._outage.lasted() >= self._journal_after
            try:
                if len(self._memory) > self._memory_rows or (outage and self._unjournaled_rows()):
                    await self._spill()
            except Exception:
                log.exception("journaling rows failed; they wait in memory")
            self._report()

    async def _spill(self) -> None:
        """Append what waits in memory to the journal, in the order it is to be written (the
        batch being written and the parts of a split one first, when the journal starts)."""
        assert self._own is not None
        async with self._journal_lock:
            current, starting = self._current, not self._own.active
            first = [current] if starting and current is not None and current.ref is None else []
            retry = list(self._retry) if starting else []
            taken = list(self._memory)
            self._retry.clear()
            self._memory.clear()
            size = self._max_batch
            batches = [*first, *retry]
            batches += [self._batch(taken[i : i + size]) for i in range(0, len(taken), size)]
            for batch in batches:
                if batch.seq is None:
                    batch.seq = self._next_seq()
            if batches and await self._own.append(batches):
                for batch in first:  # being written now: not to be read back
                    assert batch.journal is not None and batch.ref is not None
                    batch.journal.claim(batch.ref)
            elif batches:
                self._retry.extend(retry)
                self._memory.extendleft(reversed(taken))
        self._report()

    # Counting

    def _waiting_rows(self) -> int:
        return self._unjournaled_rows() + self._journal_rows()

    def _unjournaled_rows(self) -> int:
        current = self._current
        in_flight = len(current.items) if current and current.journal is None else 0
        return len(self._memory) + sum(len(b.items) for b in self._retry) + in_flight

    def _journal_rows(self) -> int:
        if self._own is None:
            return 0
        current = self._current
        in_flight = len(current.items) if current and current.journal is self._own.file else 0
        return self._own.rows + in_flight

    def _report(self) -> None:
        if self._observer is not None:
            journal = self._journal_rows()
            self._observer.writer_backlog(self._waiting_rows() - journal, journal)

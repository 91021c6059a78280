"""The batch writer's side of its journal: batches as journal lines and back, rows set aside
in the dead-letter file, and the replay of the journals that stopped processes left."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store import batch_claims
from gatewayz.store.batch_attempt import Batch, Sink
from gatewayz.store.journal import (
    DeadLetters,
    JournalFile,
    JournalPlace,
    dead_letter_path,
    journal_files,
)
from gatewayz.store.row_codec import RowCodec

log = logging.getLogger(__name__)


class JournalCodec:
    """Turns batches into journal lines and back, and keeps the dead-letter file."""

    def __init__(self, sinks: Sequence[Sink], place: JournalPlace) -> None:
        untyped = [sink.name for sink in sinks if not sink.row_types]
        if untyped:
            raise ValueError(f"sinks without row types cannot be journaled: {untyped}")
        self.rows = RowCodec({sink.name: sink.row_types for sink in sinks})
        self.place = place
        self.dead_letters = DeadLetters(dead_letter_path(place))

    def create(self, writer: str) -> JournalFile:
        return JournalFile.create(self.place.directory, self.place.namespace, writer)

    def encode(self, batch: Batch) -> dict[str, Any]:
        return {
            "writer": batch.writer,
            "seq": batch.seq,
            "created": batch.created.isoformat(),
            "rows": [self.rows.encode(sink, row) for sink, row in batch.items],
        }

    async def decode(
        self, data: dict[str, Any], journal: JournalFile, ref: int, *, counted: bool
    ) -> tuple[Batch | None, int]:
        """The batch of a journal line, and how many of its rows could not be read back
        (set aside); None if none could."""
        items, unreadable = [], []
        for value in data["rows"]:
            try:
                items.append(self.rows.decode(value))
            except (ValidationError, KeyError, ValueError) as exc:
                unreadable.append((value, f"cannot be read back: {exc}"))
        created = datetime.fromisoformat(data["created"])
        if unreadable:
            records = [
                self._record(data["writer"], data["seq"], value, error)
                for value, error in unreadable
            ]
            await asyncio.to_thread(self.dead_letters.append, records)
            log.error(
                "%d rows of the journal %s cannot be read back; they were set aside in %s",
                len(unreadable),
                journal.path,
                self.dead_letters.path,
            )
        if not items:
            await asyncio.to_thread(journal.done, ref)
            return None, len(unreadable)
        batch = Batch(items, data["writer"], data["seq"], created, journal, ref, counted=counted)
        return batch, len(unreadable)

    def set_aside(self, batch: Batch, error: str) -> None:
        """Append the batch's rows to the dead-letter file."""
        records = [
            self._record(batch.writer, batch.seq, self.rows.encode(sink, row), error)
            for sink, row in batch.items
        ]
        self.dead_letters.append(records)

    def set_aside_lines(self, journal: JournalFile) -> None:
        """Lines of a journal that are not JSON (cut short by a crash while appending)."""
        records = [
            {"at": datetime.now(UTC).isoformat(), "journal": str(journal.path), "line": raw}
            for raw in (line.decode("utf-8", "replace") for line in journal.unreadable)
        ]
        self.dead_letters.append(records)

    def _record(self, writer: str, seq: int | None, value: list[Any], error: str) -> dict[str, Any]:
        sink, kind, data = value
        return {
            "at": datetime.now(UTC).isoformat(),
            "writer": writer,
            "seq": seq,
            "sink": sink,
            "type": kind,
            "row": data,
            "error": error,
        }


class OwnJournal:
    """This process's journal, made when first needed. While it is `active`, batches wait in
    it and are written from it, in order, before anything that waits in memory."""

    def __init__(self, codec: JournalCodec, writer: str) -> None:
        self.codec = codec
        self.file: JournalFile | None = None
        self.lock = asyncio.Lock()  # one change of the file at a time
        self.active = False
        self._writer = writer

    @property
    def rows(self) -> int:
        """Rows of the batches still to read back."""
        return self.file.pending_rows if self.file is not None else 0

    async def append(self, batches: list[Batch]) -> bool:
        """Append numbered batches (call holding the lock); False if the journal cannot be
        written."""
        try:
            if self.file is None:
                self.file = await asyncio.to_thread(self.codec.create, self._writer)
            encoded = [self.codec.encode(batch) for batch in batches]
            refs = await asyncio.to_thread(self.file.append, encoded)
        except Exception as exc:
            log.error("the journal cannot be written (%r): rows wait in memory", exc)
            return False
        for batch, ref in zip(batches, refs, strict=True):
            batch.journal, batch.ref = self.file, ref
        self.active = True
        return True

    async def next(self) -> tuple[Batch | None, int]:
        """The next batch to write, and how many rows could not be read back; once none is
        left the file is emptied and the journal is no longer active (call holding the
        lock)."""
        assert self.file is not None
        unreadable = 0
        while (entry := self.file.take()) is not None:
            data = await asyncio.to_thread(self.file.read, entry)
            batch, lost = await self.codec.decode(data, self.file, entry.ref, counted=True)
            unreadable += lost
            if batch is not None:
                return batch, unreadable
        await asyncio.to_thread(self.file.truncate)
        self.active = False
        return None, unreadable

    async def close(self) -> None:
        """Release the file, or remove it if every batch in it was written."""
        if self.file is None:
            return
        finished = self.file.finished
        await asyncio.to_thread(self.file.close, remove=finished)
        if not finished:
            log.warning(
                "%d rows wait in the journal %s: the next gateway started on this database "
                "writes them",
                self.rows,
                self.file.path,
            )
        self.file = None


async def replay_orphans(
    engine: AsyncEngine,
    codec: JournalCodec,
    write: Callable[[Batch], Awaitable[None]],
) -> None:
    """Write the batches of every journal of this database that no live process holds,
    each with its own writer and number (so what was committed before is skipped), then
    remove the journal."""
    place = codec.place
    ours, others = await asyncio.to_thread(journal_files, place.directory, place.namespace)
    if others:
        log.warning(
            "journal files of another database are in %s and are not replayed here: %s",
            place.directory,
            ", ".join(path.name for path in others),
        )
    for path in ours:
        journal = await asyncio.to_thread(JournalFile.adopt, path)
        if journal is not None:
            await _replay(journal, codec, write)
    try:
        await batch_claims.prune(engine)
    except Exception as exc:
        log.warning("could not forget old batch writers: %s", type(exc).__name__)


async def _replay(
    journal: JournalFile, codec: JournalCodec, write: Callable[[Batch], Awaitable[None]]
) -> None:
    if journal.unreadable:
        await asyncio.to_thread(codec.set_aside_lines, journal)
        log.error(
            "%d lines of the journal %s are not JSON; they were set aside in %s",
            len(journal.unreadable),
            journal.path,
            codec.dead_letters.path,
        )
    rows = journal.pending_rows
    if rows:
        log.warning("writing %d rows from the journal %s", rows, journal.path)
    oldest = datetime.now(UTC) - timedelta(days=batch_claims.REPLAY_DAYS)
    while (entry := journal.take()) is not None:
        data = await asyncio.to_thread(journal.read, entry)
        batch, _ = await codec.decode(data, journal, entry.ref, counted=False)
        if batch is None:
            continue
        if batch.created < oldest:
            await _too_old(batch, entry.ref, codec)
            continue
        await write(batch)
    await asyncio.to_thread(journal.close, remove=True)
    if rows:
        log.warning("the %d rows of the journal %s are written", rows, journal.path)


async def _too_old(batch: Batch, ref: int, codec: JournalCodec) -> None:
    """A batch older than the record of what was committed: it may have been, so it is not
    written again blindly."""
    error = (
        f"journaled more than {batch_claims.REPLAY_DAYS} days ago: it may have been written "
        "already; write it by hand if it was not"
    )
    await asyncio.to_thread(codec.set_aside, batch, error)
    assert batch.journal is not None
    await asyncio.to_thread(batch.journal.done, ref)
    log.error(
        "a batch of %d rows in the journal %s is older than %d days; it was set aside in %s",
        len(batch.items),
        batch.journal.path,
        batch_claims.REPLAY_DAYS,
        codec.dead_letters.path,
    )

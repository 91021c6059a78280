"""One attempt to write one batch, and what its failure says: the database could not be
reached (the same batch may succeed later, unchanged), or it refused the rows."""

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from gatewayz.store import batch_claims
from gatewayz.store.journal import JournalFile

log = logging.getLogger(__name__)

SinkWrite = Callable[[AsyncConnection, list[Any]], Awaitable[None]]
Item = tuple[str, Any]

# SQLSTATE classes of PostgreSQL errors that pass: connection exceptions, transaction
# rollbacks (serialization failures, deadlocks), insufficient resources, operator
# intervention (shutdown, restart), system errors.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_REPORT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Sink:
    """A named destination of rows: `write` stores a list of them in the caller's
    transaction; `row_types` are the types of rows it takes (needed to journal them)."""

    name: str
    write: SinkWrite
    row_types: tuple[type, ...] = ()


@dataclass(slots=True)
class Batch:
    """Rows written in one transaction, as batch `seq` of `writer`, created at `created`;
    `journal` and `ref` say where it waits on disk, if it does.

    A writer numbers its batches in the order it writes them, when it first tries one (or
    journals it), and never tries a higher number before a lower one is committed or known
    not to be: a number at most the writer's last committed one is then a committed batch.
    """

    items: list[Item]
    writer: str
    seq: int | None
    created: datetime
    journal: JournalFile | None = None
    ref: int | None = None
    refusals: int = 0
    counted: bool = True  # queued by this process (not replayed from a journal)


class CommitUnknown(Exception):
    """A batch's COMMIT failed without the database saying it refused it (the connection was
    lost, say): the batch may or may not be committed."""


def unreachable(exc: BaseException) -> bool:
    """Whether a failed write says the database could not take it now (lost or refused
    connection, lock or disk trouble, shutdown, deadlock) rather than that it refused what
    it was sent."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        state = getattr(exc.orig, "sqlstate", None)
        return isinstance(state, str) and state[:2] in _TRANSIENT_CLASSES
    return isinstance(exc, OSError | TimeoutError | PoolTimeout | DisconnectionError)


def describe(exc: BaseException) -> str:
    """The error's class and message, without the statement or its parameters."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    message = " ".join(str(cause).split())[:300]
    return f"{type(cause).__name__}: {message}" if message else type(cause).__name__


async def attempt(engine: AsyncEngine, sinks: Sequence[Sink], batch: Batch) -> bool:
    """Write the batch in one transaction; False if it had been committed already.

    Raises CommitUnknown when the COMMIT itself fails other than by the database's refusal:
    the batch must then be tried again unchanged (never split), so that its number tells.
    """
    grouped: dict[str, list[Any]] = {sink.name: [] for sink in sinks}
    for name, row in batch.items:
        grouped[name].append(row)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            assert batch.seq is not None
            claimed = await batch_claims.claim(conn, batch.writer, batch.seq)
            for sink in sinks if claimed else ():
                if grouped[sink.name]:
                    await sink.write(conn, grouped[sink.name])
        except BaseException:
            await _roll_back(transaction)
            raise
        if not claimed:
            await _roll_back(transaction)
            return False
        try:
            await transaction.commit()
        except Exception as exc:
            if _refused_commit(exc):
                raise
            raise CommitUnknown(describe(exc)) from exc
    return True


async def _roll_back(transaction: AsyncTransaction) -> None:
    """Roll back, if the connection still can (a lost one rolls back on the server)."""
    with contextlib.suppress(Exception):
        await transaction.rollback()


def _refused_commit(exc: BaseException) -> bool:
    """Whether a failed COMMIT was answered by a PostgreSQL server with an error (so the
    transaction was rolled back), rather than lost on the way."""
    if not isinstance(exc, DBAPIError) or exc.connection_invalidated:
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return isinstance(state, str) and not state.startswith("08")


async def answers(engine: AsyncEngine, writer: str) -> bool:
    """Whether the database takes a write now."""
    try:
        await batch_claims.probe(engine, writer)
    except Exception:
        return False
    return True


@dataclass(slots=True)
class OutageLog:
    """Logs that the database cannot be reached when it starts, every 30 s while it lasts,
    and when it ends."""

    since: float | None = None
    reported: float = 0.0

    def unreachable(self, exc: BaseException, waiting: int, journaled: int) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = self.reported = now
            log.warning(
                "the database cannot be reached (%s): %d rows wait for it", describe(exc), waiting
            )
        elif now - self.reported >= _REPORT_SECONDS:
            self.reported = now
            log.warning(
                "the database still cannot be reached after %.0f s (%s): %d rows wait for it, "
                "%d of them in the journal",
                now - self.since,
                describe(exc),
                waiting,
                journaled,
            )

    def reachable(self, waiting: int) -> None:
        if self.since is not None:
            log.warning(
                "the database can be reached again after %.1f s: writing the %d rows that "
                "waited for it",
                time.monotonic() - self.since,
                waiting,
            )
        self.since = None

    def lasted(self) -> float:
        """Seconds since the database could last be reached (0 while it can)."""
        return 0.0 if self.since is None else time.monotonic() - self.since

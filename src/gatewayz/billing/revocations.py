"""Every balance decrease reaches the credit leases of every gateway process.

A lease (billing/holds.py) is credit a process took from a user's unheld balance to serve
that user's next calls from memory. When the balance goes down (a ledger change with a
negative amount, a settlement charging more than its call held), the leases taken before
may hold more than is left. So every decrease calls `record_revocation(conn, user_ids)` in
its transaction, which writes one `credit_revocations` row per user and marks the
transaction; then

- the process whose engine ran the transaction gives back the free part of those users'
  leases as the transaction commits (SQLAlchemy's commit event fires inside the commit, so
  before the caller returns), and announces the users on Redis when one is configured
  (revocation_channel.py);
- every process reads the rows written since its last look every `revocation_poll_seconds`
  (with Redis, every `revocation_backstop_seconds`, for a message that was lost) and gives
  back those users' leases. A process that cannot read them (the database is unreachable)
  logs it and reads every row it missed once it can: meanwhile its leases serve at most
  their free part, which cannot grow without the database, and every growth is taken from
  the balance as it is then, so a missed decrease can be spent at most once per lease (the
  bound of any stale lease, see billing/holds.py).

Acting on a decrease before its commit has landed is safe: the decrease has already updated
the user's row, so a lease taken again meanwhile waits for that row (its lock on PostgreSQL,
the write lock on SQLite) and sees the new balance.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.store.tables import credit_revocations

log = logging.getLogger(__name__)

_PENDING = "gatewayz.revocations"
_PAGE = 1000
_MAX_SPAN = 10_000  # ids further below the newest read are not waited for
_PRUNE_EVERY_SECONDS = 30.0


class Leases(Protocol):
    """What the watch needs of this process's credit leases (billing/holds.CreditHolds)."""

    def give_back(self, user_ids: Iterable[int]) -> None: ...


@dataclass(slots=True)
class _Pending:
    """The users whose balance one transaction lowered, and the process it runs in."""

    origin: str | None
    users: set[int] = field(default_factory=set)


async def record_revocation(conn: AsyncConnection, user_ids: Iterable[int]) -> None:
    """Note in the caller's transaction that these users' balances went down, so every
    process gives back the leases it holds for them (call it after the users' rows were
    updated)."""
    found = sorted(set(user_ids))
    if not found:
        return
    pending = conn.sync_connection.info.get(_PENDING) if conn.sync_connection else None
    origin = pending.origin if pending is not None else None
    now = datetime.now(UTC)
    await conn.execute(
        credit_revocations.insert(),
        [{"user_id": user_id, "origin": origin, "created_at": now} for user_id in found],
    )
    if pending is not None:
        pending.users.update(found)


@contextlib.contextmanager
def commits_revoking(
    engine: AsyncEngine, origin: str | None, revoked: Callable[[list[int]], None]
) -> Iterator[None]:
    """While open, call `revoked(user_ids)` as each transaction of `engine` that recorded
    revocations commits (inside the commit, before it returns)."""

    def begun(conn: Connection) -> None:
        conn.info[_PENDING] = _Pending(origin)

    def committed(conn: Connection) -> None:
        pending = conn.info.pop(_PENDING, None)
        if pending is not None and pending.users:
            revoked(sorted(pending.users))

    def rolled_back(conn: Connection) -> None:
        if not conn.invalidated:  # (an invalidated connection's info goes with it)
            conn.info.pop(_PENDING, None)

    listeners: list[tuple[str, Callable[[Connection], None]]] = [
        ("begin", begun),
        ("commit", committed),
        ("rollback", rolled_back),
    ]
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)


@dataclass(slots=True)
class Cursor:
    """Which revocation rows this process has read: every id up to `low`, and `seen` above.

    PostgreSQL draws an id at insert, so a transaction may commit after one that drew a
    later id: an id missing below the newest read is looked for again (it may also be a
    rolled-back one) until `wait_seconds` have passed since it was first missed.
    """

    low: int
    wait_seconds: float
    seen: set[int] = field(default_factory=set)
    missing: dict[int, float] = field(default_factory=dict)

    def take(
        self, rows: Iterable[tuple[int, int, str | None]], now: float
    ) -> list[tuple[int, str | None]]:
        """The (user id, origin) of the rows not read before; moves the cursor on."""
        fresh = [row for row in rows if row[0] > self.low and row[0] not in self.seen]
        for row_id, _, _ in fresh:
            self.seen.add(row_id)
            self.missing.pop(row_id, None)
        top = max(self.seen, default=self.low)
        for row_id in range(max(self.low + 1, top - _MAX_SPAN), top):
            if row_id not in self.seen:
                self.missing.setdefault(row_id, now)
        while self.low < top:
            following = self.low + 1
            if following in self.missing:
                if now - self.missing[following] < self.wait_seconds:
                    break
                del self.missing[following]
            self.seen.discard(following)
            self.low = following
        return [(user_id, origin) for _, user_id, origin in fresh]


async def newest_id(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.max(credit_revocations.c.id))) or 0)


async def read_new(engine: AsyncEngine, cursor: Cursor) -> list[tuple[int, str | None]]:
    """The revocations committed since the cursor last moved: one indexed range read (more
    pages if many)."""
    found: list[tuple[int, str | None]] = []
    after = cursor.low
    async with engine.connect() as conn:
        while True:
            rows = (
                await conn.execute(
                    select(
                        credit_revocations.c.id,
                        credit_revocations.c.user_id,
                        credit_revocations.c.origin,
                    )
                    .where(credit_revocations.c.id > after)
                    .order_by(credit_revocations.c.id)
                    .limit(_PAGE)
                )
            ).all()
            found += cursor.take([(row[0], row[1], row[2]) for row in rows], time.monotonic())
            if len(rows) < _PAGE:
                return found
            after = rows[-1][0]


async def prune(engine: AsyncEngine, keep_seconds: float) -> int:
    """Delete the revocations older than `keep_seconds`; how many were deleted."""
    cutoff = datetime.now(UTC) - timedelta(seconds=keep_seconds)
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(credit_revocations).where(credit_revocations.c.created_at < cutoff)
        )
    return int(result.rowcount or 0)


class RevocationWatch:
    """Gives back this process's leases for every balance decrease, wherever it was made."""

    def __init__(
        self,
        engine: AsyncEngine,
        leases: Leases,
        *,
        origin: str,
        interval: float,
        keep_seconds: float,
        announce: Callable[[list[int]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._leases = leases
        self._origin = origin
        self._interval = interval
        self._keep = keep_seconds
        self._announce = announce
        self._wake = asyncio.Event()
        self._hook = contextlib.ExitStack()
        self._task: asyncio.Task[None] | None = None
        self._cursor: Cursor | None = None

    async def start(self) -> None:
        self._cursor = Cursor(await newest_id(self._engine), self._keep)
        self._hook.enter_context(commits_revoking(self._engine, self._origin, self._committed))
        self._task = asyncio.create_task(self._run(), name="gatewayz-revocations")

    async def stop(self) -> None:
        self._hook.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def heard(self, origin: str | None, user_ids: list[int]) -> None:
        """A decrease announced by a process (on Redis): give back those users' leases."""
        if origin != self._origin:
            self._leases.give_back(user_ids)

    def look_now(self) -> None:
        """Read the database at once (after messages may have been missed)."""
        self._wake.set()

    def _committed(self, user_ids: list[int]) -> None:
        self._leases.give_back(user_ids)
        if self._announce is not None:
            self._announce(user_ids)

    async def _run(self) -> None:
        last_pruned = time.monotonic()
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            started = time.monotonic()
            try:
                await self._read()
                if started - last_pruned >= _PRUNE_EVERY_SECONDS:
                    last_pruned = started
                    await prune(self._engine, self._keep)
            except Exception as exc:
                if not failing:
                    log.warning("cannot read credit revocations: %s", type(exc).__name__)
                failing = True
                continue
            if failing:
                log.warning("credit revocations are read again")
            failing = False

    async def _read(self) -> None:
        assert self._cursor is not None
        found = await read_new(self._engine, self._cursor)
        users = {user_id for user_id, origin in found if origin != self._origin}
        if users:
            self._leases.give_back(sorted(users))

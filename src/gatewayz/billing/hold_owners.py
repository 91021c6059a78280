"""Who holds what: each gateway process records the credit it holds (users' leases, holds on
keys with a spending limit) under its own id, in the same transactions that take and give
back the holds, and beats a heartbeat. When a process dies without shutting down, any other
process (or `gatewayz holds reclaim`) gives its holds back once its heartbeat is stale.
"""

import asyncio
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.store.tables import api_keys, gateway_processes, process_holds, users
from gatewayz.store.times import utc

log = logging.getLogger(__name__)

USER = "user"
KEY = "key"
_HELD_BY = {USER: users, KEY: api_keys}


class HoldSettings(BaseModel):
    """The `holds:` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    heartbeat_seconds: float = Field(default=5.0, gt=0)
    stale_seconds: float = Field(default=60.0, gt=0)
    # The free part of a process's lease is at most this share of the user's unheld
    # balance (or one call's hold, if that is more): what a stale lease can serve.
    lease_share: float = Field(default=0.1, gt=0, le=1)
    # How often each process reads the balance decreases made elsewhere from the database:
    # without Redis, and with Redis (which announces them at once) as the backstop.
    revocation_poll_seconds: float = Field(default=0.5, gt=0)
    revocation_backstop_seconds: float = Field(default=2.0, gt=0)
    # How long recorded decreases are kept (and a late-committing one waited for).
    revocation_keep_seconds: float = Field(default=300.0, gt=0)


@dataclass(frozen=True, slots=True)
class Reclaimed:
    """The holds given back for one dead process."""

    process_id: str
    last_seen: datetime
    users: int
    keys: int
    units: int


async def record_taken(
    conn: AsyncConnection, owner: str, kind: str, subject_id: int, units: int
) -> None:
    """Note in the caller's transaction that `owner` now holds `units` more on the subject."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(process_holds).values(
        process_id=owner, kind=kind, subject_id=subject_id, units=units
    )
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=["process_id", "kind", "subject_id"],
            set_={"units": process_holds.c.units + insert.excluded.units},
        )
    )


_GIVEN_BACK = (
    update(process_holds)
    .where(
        process_holds.c.process_id == bindparam("owner"),
        process_holds.c.kind == bindparam("hold_kind"),
        process_holds.c.subject_id == bindparam("subject"),
    )
    .values(units=process_holds.c.units - bindparam("units"))
)


async def record_given_back(
    conn: AsyncConnection, given_back: Iterable[tuple[str, str, int, int]]
) -> None:
    """Note in the caller's transaction the holds given back, as (owner, kind, subject id,
    units), in a fixed order so that concurrent writers cannot deadlock."""
    rows = sorted(item for item in given_back if item[3])
    if rows:
        await conn.execute(
            _GIVEN_BACK,
            [{"owner": o, "hold_kind": k, "subject": s, "units": u} for o, k, s, u in rows],
        )


class HoldOwner:
    """This process as an owner of holds: registers itself, beats, reclaims dead owners."""

    def __init__(self, engine: AsyncEngine, settings: HoldSettings) -> None:
        self.id = secrets.token_hex(8)
        self._engine = engine
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._register()
        self._task = asyncio.create_task(self._run(), name="gatewayz-hold-owner")

    async def stop(self) -> None:
        """Stop beating and remove this process (call after its holds were given back)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        async with self._engine.begin() as conn:
            left = await conn.scalar(
                select(process_holds.c.units)
                .where(process_holds.c.process_id == self.id, process_holds.c.units > 0)
                .limit(1)
            )
            if left is None:
                await conn.execute(
                    delete(process_holds).where(process_holds.c.process_id == self.id)
                )
                await conn.execute(
                    delete(gateway_processes).where(gateway_processes.c.id == self.id)
                )

    async def _register(self) -> None:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(
                gateway_processes.insert().values(id=self.id, started_at=now, heartbeat_at=now)
            )

    async def _beat(self) -> None:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(gateway_processes)
                .where(gateway_processes.c.id == self.id)
                .values(heartbeat_at=datetime.now(UTC))
            )
        if result.rowcount == 0:  # stalled for longer than stale_seconds: reclaimed
            log.error("this process's credit holds were given back while it stalled")
            await self._register()

    async def _run(self) -> None:
        beats_per_reclaim = max(
            1, round(self._settings.stale_seconds / 2 / self._settings.heartbeat_seconds)
        )
        beats = 0
        while True:
            await asyncio.sleep(self._settings.heartbeat_seconds)
            try:
                await self._beat()
                beats += 1
                if beats % beats_per_reclaim == 0:
                    await reclaim(self._engine, self._settings.stale_seconds)
            except Exception as exc:
                log.warning("credit hold heartbeat failed: %s", type(exc).__name__)


async def reclaim(engine: AsyncEngine, stale_seconds: float) -> list[Reclaimed]:
    """Give back every hold of the processes not seen for `stale_seconds`."""
    cutoff = datetime.now(UTC) - timedelta(seconds=stale_seconds)
    async with engine.connect() as conn:
        dead = (
            (
                await conn.execute(
                    select(gateway_processes.c.id).where(gateway_processes.c.heartbeat_at < cutoff)
                )
            )
            .scalars()
            .all()
        )
    found = []
    for process_id in dead:
        async with engine.begin() as conn:
            reclaimed = await _reclaim_one(conn, process_id, cutoff)
        if reclaimed is not None:
            log.warning(
                "gave back the credit holds of gateway process %s (last seen %s): "
                "%d users, %d keys, %d units",
                reclaimed.process_id,
                reclaimed.last_seen.isoformat(),
                reclaimed.users,
                reclaimed.keys,
                reclaimed.units,
            )
            found.append(reclaimed)
    return found


async def _reclaim_one(
    conn: AsyncConnection, process_id: str, cutoff: datetime
) -> Reclaimed | None:
    """Give back one dead process's holds in the caller's transaction; None if another
    process got there first or it came back to life."""
    query = select(gateway_processes.c.heartbeat_at).where(
        gateway_processes.c.id == process_id, gateway_processes.c.heartbeat_at < cutoff
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    last_seen = await conn.scalar(query)
    if last_seen is None:
        return None
    holds = (
        await conn.execute(
            select(process_holds.c.kind, process_holds.c.subject_id, process_holds.c.units)
            .where(process_holds.c.process_id == process_id, process_holds.c.units > 0)
            .order_by(process_holds.c.kind, process_holds.c.subject_id)
        )
    ).all()
    for kind, subject_id, units in holds:
        table = _HELD_BY[kind]
        await conn.execute(
            update(table)
            .where(table.c.id == subject_id)
            .values(
                reserved_units=case(
                    (table.c.reserved_units > units, table.c.reserved_units - units), else_=0
                )
            )
        )
    await conn.execute(delete(process_holds).where(process_holds.c.process_id == process_id))
    await conn.execute(delete(gateway_processes).where(gateway_processes.c.id == process_id))
    return Reclaimed(
        process_id,
        utc(last_seen),
        sum(1 for kind, _, _ in holds if kind == USER),
        sum(1 for kind, _, _ in holds if kind == KEY),
        sum(units for _, _, units in holds),
    )

"""Traffic statistics from the request log: totals, latency percentiles, groups and days.

Every figure is computed from `request_logs`; with no rows, counts are zero and rates and
percentiles are None, never a made-up number. Money stays in integer units.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.tables import users
from gatewayz.store.times import utc
from gatewayz.telemetry.log_query import (
    LogFilter,
    bucket_index,
    day_starts,
    is_error,
    log,
    maybe_int,
    percentiles,
    rate,
    totals_columns,
)


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts, tokens and cost of a set of calls."""

    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_units: int = 0

    @classmethod
    def of(cls, row: Any) -> "Totals":
        """From a row selected with `totals_columns()` (PostgreSQL sums come as Decimal)."""
        return cls(*(int(row._mapping[name]) for name in _TOTALS))

    @property
    def error_rate(self) -> float | None:
        return rate(self.errors, self.requests)


_TOTALS = ("requests", "errors", "cancelled", "input_tokens", "output_tokens", "cost_units")


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Nearest-rank p50 and p95 of some milliseconds, and how many values they come from."""

    samples: int = 0
    p50: int | None = None
    p95: int | None = None


@dataclass(frozen=True, slots=True)
class Realtime:
    """Traffic in [since, until)."""

    since: datetime
    until: datetime
    totals: Totals
    latency_ms: Percentiles
    ttft_ms: Percentiles


@dataclass(frozen=True, slots=True)
class Group:
    """Totals of one group (a model, provider, user, key or day)."""

    key: Any
    totals: Totals
    error_codes: dict[int, int] = field(default_factory=dict)
    label: str | None = None


async def totals(engine: AsyncEngine, where: LogFilter) -> Totals:
    """Totals of every row matching `where`."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(*totals_columns()).where(*where.clauses()))).one()
    return Totals.of(row)


async def latency(engine: AsyncEngine, value: Any, where: LogFilter) -> Percentiles:
    """p50/p95 of `value` (a column) over the successful calls matching `where`."""
    query = percentiles(value, [], [*where.clauses(), log.status_code < 400])
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return Percentiles()
    return Percentiles(int(row.samples), maybe_int(row.p50), maybe_int(row.p95))


async def realtime(engine: AsyncEngine, where: LogFilter) -> Realtime:
    """Requests, errors, tokens, cost and latency percentiles of a closed time window."""
    assert where.since is not None and where.until is not None
    return Realtime(
        utc(where.since),
        utc(where.until),
        await totals(engine, where),
        await latency(engine, log.latency_ms, where),
        await latency(engine, log.ttft_ms, where),
    )


async def grouped(
    engine: AsyncEngine, key: ColumnElement[Any], where: LogFilter, limit: int | None = None
) -> list[Group]:
    """Totals per value of `key` (a column), most costly first, then most requests."""
    columns = totals_columns()
    query = (
        select(key.label("key"), *columns)
        .where(*where.clauses())
        .group_by(key)
        .order_by(columns[-1].desc(), columns[0].desc(), key)
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [Group(row.key, Totals.of(row)) for row in rows]


async def error_rates(
    engine: AsyncEngine, key: ColumnElement[Any], where: LogFilter
) -> list[Group]:
    """Per value of `key`: totals and the count of each error status, most errors first."""
    groups = await grouped(engine, key, where)
    query = (
        select(key.label("key"), log.status_code, func.count().label("n"))
        .where(*where.clauses(), is_error(log.status_code))
        .group_by(key, log.status_code)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    codes: dict[Any, dict[int, int]] = {}
    for row in rows:
        codes.setdefault(row.key, {})[int(row.status_code)] = int(row.n)
    out = [Group(g.key, g.totals, dict(sorted(codes.get(g.key, {}).items()))) for g in groups]
    return sorted(out, key=lambda g: (-g.totals.errors, -g.totals.requests, str(g.key)))


async def by_user(engine: AsyncEngine, where: LogFilter, limit: int) -> list[Group]:
    """Totals per user, labelled with their email, most costly first."""
    groups = await grouped(engine, log.user_id, where, limit)
    if not groups:
        return []
    query = select(users.c.id, users.c.email).where(users.c.id.in_([g.key for g in groups]))
    async with engine.connect() as conn:
        emails = {user_id: email for user_id, email in (await conn.execute(query)).all()}
    return [Group(g.key, g.totals, label=emails.get(g.key)) for g in groups]


async def by_day(engine: AsyncEngine, where: LogFilter) -> list[Group]:
    """Totals per UTC day of a closed window, every day listed (days without calls as zeros)."""
    assert where.since is not None and where.until is not None
    starts = day_starts(where.since, where.until)
    rows = (
        select(
            bucket_index(log.created_at, starts).label("day"),
            log.status_code,
            log.input_tokens,
            log.output_tokens,
            log.cost_units,
        )
        .where(*where.clauses())
        .subquery()
    )
    query = select(rows.c.day, *totals_columns(rows.c)).group_by(rows.c.day)
    async with engine.connect() as conn:
        found = {int(row.day): Totals.of(row) for row in (await conn.execute(query)).all()}
    return [Group(day.date().isoformat(), found.get(i, Totals())) for i, day in enumerate(starts)]

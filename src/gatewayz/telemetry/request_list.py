"""The request log as admins browse it: pages of rows, counts, and per-model summaries."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.times import utc
from gatewayz.telemetry.log_query import (
    CLIENT_CLOSED,
    LogFilter,
    log,
    maybe_float,
    maybe_int,
    older_than,
    percentiles,
)
from gatewayz.telemetry.stats import Group, Percentiles, grouped

LISTED = (
    "id",
    "request_id",
    "user_id",
    "key_id",
    "api",
    "model",
    "provider",
    "provider_model",
    "stream",
    "status_code",
    "error",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "usage_estimated",
    "cost_units",
    "latency_ms",
    "ttft_ms",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class Page:
    """Rows newest first, and the (created_at, id) to continue after, if there may be more."""

    rows: list[dict[str, Any]]
    after: tuple[datetime, int] | None


@dataclass(frozen=True, slots=True)
class Counts:
    """How many calls there were, by outcome, status code and API."""

    requests: int
    by_outcome: dict[str, int]
    by_status: dict[int, int]
    by_api: dict[str, int]


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """One requested model: totals, mean and percentile latency of successful calls."""

    group: Group
    avg_latency_ms: float | None
    latency_ms: Percentiles
    ttft_ms: Percentiles


async def page(
    engine: AsyncEngine, where: LogFilter, limit: int, after: tuple[datetime, int] | None = None
) -> Page:
    """Up to `limit` rows matching `where`, newest first, after the cursor `after`."""
    clauses = where.clauses()
    if after is not None:
        clauses.append(older_than(*after))
    query = (
        select(*(log[name] for name in LISTED))
        .where(*clauses)
        .order_by(log.created_at.desc(), log.id.desc())
        .limit(limit + 1)
    )
    async with engine.connect() as conn:
        found = [dict(row._mapping) for row in (await conn.execute(query)).all()]
    for row in found:
        row["created_at"] = utc(row["created_at"])
    rows = found[:limit]
    more = len(found) > limit
    return Page(rows, (rows[-1]["created_at"], rows[-1]["id"]) if more else None)


async def counts(engine: AsyncEngine, where: LogFilter) -> Counts:
    """Calls matching `where` counted by status code and by API."""
    by_status = await _count_by(engine, log.status_code, where)
    by_api = await _count_by(engine, log.api, where)
    outcome = {"ok": 0, "error": 0, "cancelled": 0}
    for code, n in by_status.items():
        kind = "ok" if code < 400 else "cancelled" if code == CLIENT_CLOSED else "error"
        outcome[kind] += n
    return Counts(sum(by_status.values()), outcome, by_status, by_api)


async def _count_by(
    engine: AsyncEngine, key: ColumnElement[Any], where: LogFilter
) -> dict[Any, int]:
    query = select(key, func.count()).where(*where.clauses()).group_by(key).order_by(key)
    async with engine.connect() as conn:
        return {value: int(n) for value, n in (await conn.execute(query)).all()}


async def models(engine: AsyncEngine, where: LogFilter, limit: int) -> list[ModelSummary]:
    """Per requested model: totals, and latency of its successful calls; most requests first."""
    groups = await grouped(engine, log.model, where)
    groups.sort(key=lambda g: (-g.totals.requests, g.key))
    groups = groups[:limit]
    ok = [*where.clauses(), log.status_code < 400]
    mean = select(log.model, func.avg(log.latency_ms)).where(*ok).group_by(log.model)
    async with engine.connect() as conn:
        means = {model: maybe_float(avg) for model, avg in (await conn.execute(mean)).all()}
        latency = await _percentiles_by_model(conn, log.latency_ms, ok)
        ttft = await _percentiles_by_model(conn, log.ttft_ms, ok)
    return [
        ModelSummary(
            g, means.get(g.key), latency.get(g.key, Percentiles()), ttft.get(g.key, Percentiles())
        )
        for g in groups
    ]


async def _percentiles_by_model(
    conn: Any, value: Any, where: list[ColumnElement[bool]]
) -> dict[str, Percentiles]:
    rows = (await conn.execute(percentiles(value, [log.model], where))).all()
    return {
        row.model: Percentiles(int(row.samples), maybe_int(row.p50), maybe_int(row.p95))
        for row in rows
    }

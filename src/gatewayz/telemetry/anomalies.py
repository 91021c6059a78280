"""Anomalies: routes whose error rate or p95 latency in a recent window is far above baseline.

A route is a (provider, provider model) pair. The recent window (say the last 15 minutes)
is compared with the baseline window just before it (say the 24 hours before). A route
with too few calls in either window is never judged.

- Error rate: flagged when the recent rate r exceeds the baseline rate b by at least
  `min_rate_increase` and by at least `z` standard errors, z = (r - b) / sqrt(p(1-p)/n),
  with n recent calls and p = max(b, `rate_floor`) so that a spotless baseline does not make
  a single error infinitely surprising.
- Latency: flagged when the recent p95 of successful calls is at least `latency_ratio`
  times the baseline p95 and at least `min_latency_increase_ms` above it.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.telemetry.log_query import (
    LogFilter,
    log,
    maybe_int,
    percentiles,
    rate,
    totals_columns,
)

Route = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds of anomaly detection."""

    min_recent_requests: int = 20
    min_baseline_requests: int = 100
    z: float = 3.0
    min_rate_increase: float = 0.05
    rate_floor: float = 0.01
    latency_ratio: float = 2.0
    min_latency_increase_ms: int = 100


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One route in one window: calls, errors, and p95 latency of the successful calls."""

    requests: int
    errors: int
    ok_samples: int
    p95_latency_ms: int | None

    @property
    def error_rate(self) -> float | None:
        return rate(self.errors, self.requests)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One route far outside its baseline on one measure (`error_rate` or `p95_latency_ms`)."""

    provider: str
    provider_model: str
    kind: str
    recent: WindowStats
    baseline: WindowStats
    score: float


async def detect(
    engine: AsyncEngine, recent: LogFilter, baseline: LogFilter, rules: Rules = Rules()
) -> list[Anomaly]:
    """Anomalies of every route with enough calls in both windows, highest score first."""
    now = await _window_stats(engine, recent)
    before = await _window_stats(engine, baseline)
    found: list[Anomaly] = []
    for route, current in now.items():
        past = before.get(route)
        if past is None or current.requests < rules.min_recent_requests:
            continue
        if past.requests < rules.min_baseline_requests:
            continue
        z = error_score(current, past, rules)
        if z is not None:
            found.append(Anomaly(*route, "error_rate", current, past, z))
        ratio = latency_score(current, past, rules)
        if ratio is not None:
            found.append(Anomaly(*route, "p95_latency_ms", current, past, ratio))
    return sorted(found, key=lambda a: (-a.score, a.provider, a.provider_model, a.kind))


def error_score(recent: WindowStats, baseline: WindowStats, rules: Rules) -> float | None:
    """The z-score of the recent error rate against the baseline, if it is an anomaly."""
    now, before = recent.errors / recent.requests, baseline.errors / baseline.requests
    p = min(max(before, rules.rate_floor), 1 - rules.rate_floor)
    z = (now - before) / math.sqrt(p * (1 - p) / recent.requests)
    if now - before >= rules.min_rate_increase and z >= rules.z:
        return round(z, 2)
    return None


def latency_score(recent: WindowStats, baseline: WindowStats, rules: Rules) -> float | None:
    """Recent p95 / baseline p95, if it is an anomaly (both need enough successful calls)."""
    now, before = recent.p95_latency_ms, baseline.p95_latency_ms
    if now is None or before is None or before <= 0:
        return None
    if recent.ok_samples < rules.min_recent_requests:
        return None
    if baseline.ok_samples < rules.min_baseline_requests:
        return None
    if now >= rules.latency_ratio * before and now - before >= rules.min_latency_increase_ms:
        return round(now / before, 2)
    return None


async def _window_stats(engine: AsyncEngine, where: LogFilter) -> dict[Route, WindowStats]:
    """Per route: calls, errors and p95 latency of successful calls matching `where`."""
    keys: list[ColumnElement[Any]] = [log.provider, log.provider_model]
    clauses = [*where.clauses(), log.provider.is_not(None), log.provider_model.is_not(None)]
    counts = select(*keys, *totals_columns()[:2]).where(*clauses).group_by(*keys)
    p95 = percentiles(log.latency_ms, keys, [*clauses, log.status_code < 400], points=(95,))
    async with engine.connect() as conn:
        totals = (await conn.execute(counts)).all()
        latency = {(r.provider, r.provider_model): r for r in (await conn.execute(p95)).all()}
    out: dict[Route, WindowStats] = {}
    for row in totals:
        route = (row.provider, row.provider_model)
        lat = latency.get(route)
        out[route] = WindowStats(
            int(row.requests),
            int(row.errors),
            int(lat.samples) if lat else 0,
            maybe_int(lat.p95) if lat else None,
        )
    return out


def windows(until: datetime, recent: timedelta, baseline: timedelta) -> tuple[LogFilter, LogFilter]:
    """The recent window ending at `until`, and the baseline window just before it."""
    start = until - recent
    return LogFilter(since=start, until=until), LogFilter(since=start - baseline, until=start)

"""Anomaly detection flags an error or latency spike against the baseline, and nothing else."""

import math
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.telemetry import anomalies
from gatewayz.telemetry.request_log import RequestLogRow
from tests.telemetry.rows import NOON, insert, row

RECENT, BASELINE = anomalies.windows(NOON, timedelta(minutes=15), timedelta(hours=24))


def _baseline(count: int = 200, provider: str = "p1") -> list[RequestLogRow]:
    """A steady day: one call every few minutes, every 50th a 502, latency 100..199 ms."""
    assert BASELINE.since is not None
    step = timedelta(hours=24) / count
    return [
        row(
            provider=provider,
            status_code=502 if i % 50 == 0 else 200,
            latency_ms=100 + i % 100,
            created_at=BASELINE.since + i * step,
        )
        for i in range(count)
    ]


def _recent(count: int, *, errors: int = 0, latency_ms: int = 150) -> list[RequestLogRow]:
    """`count` calls in the last 15 minutes, the first `errors` of them 502s."""
    assert RECENT.since is not None
    step = timedelta(minutes=15) / count
    return [
        row(
            status_code=502 if i < errors else 200,
            latency_ms=latency_ms,
            created_at=RECENT.since + i * step,
        )
        for i in range(count)
    ]


async def test_a_steady_series_raises_nothing(engine: AsyncEngine) -> None:
    await insert(engine, _baseline() + _recent(40, errors=1, latency_ms=190))
    assert await anomalies.detect(engine, RECENT, BASELINE) == []


async def test_an_error_spike_is_flagged_with_its_z_score(engine: AsyncEngine) -> None:
    await insert(engine, _baseline() + _recent(40, errors=20))
    (found,) = await anomalies.detect(engine, RECENT, BASELINE)
    assert (found.provider, found.provider_model, found.kind) == ("p1", "a", "error_rate")
    assert (found.recent.requests, found.recent.errors) == (40, 20)
    assert (found.baseline.requests, found.baseline.errors) == (200, 4)
    expected = (0.5 - 0.02) / math.sqrt(0.02 * 0.98 / 40)
    assert found.score == round(expected, 2)


async def test_a_latency_spike_is_flagged_with_its_ratio(engine: AsyncEngine) -> None:
    await insert(engine, _baseline() + _recent(40, latency_ms=1_000))
    (found,) = await anomalies.detect(engine, RECENT, BASELINE)
    assert found.kind == "p95_latency_ms"
    ok = sorted(r.latency_ms for r in _baseline() if r.status_code == 200)
    p95 = ok[math.ceil(0.95 * len(ok)) - 1]  # nearest rank
    assert p95 == 195
    assert (found.recent.p95_latency_ms, found.baseline.p95_latency_ms) == (1_000, p95)
    assert found.score == round(1_000 / p95, 2)


async def test_too_little_data_raises_nothing(engine: AsyncEngine) -> None:
    await insert(engine, _baseline() + _recent(10, errors=10))  # too few recent calls
    assert await anomalies.detect(engine, RECENT, BASELINE) == []


async def test_a_thin_baseline_raises_nothing(engine: AsyncEngine) -> None:
    await insert(engine, _baseline(count=50) + _recent(40, errors=40, latency_ms=5_000))
    assert await anomalies.detect(engine, RECENT, BASELINE) == []


async def test_routes_are_judged_against_their_own_baseline(engine: AsyncEngine) -> None:
    await insert(engine, _baseline(provider="p2") + _recent(40, errors=20))
    assert await anomalies.detect(engine, RECENT, BASELINE) == []  # p1 has no baseline


async def test_an_empty_log_raises_nothing(engine: AsyncEngine) -> None:
    assert await anomalies.detect(engine, RECENT, BASELINE) == []

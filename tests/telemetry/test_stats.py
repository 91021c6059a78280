"""Statistics over the request log give exact figures on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.telemetry import request_list, stats
from gatewayz.telemetry.log_query import LogFilter, log
from gatewayz.telemetry.stats import Percentiles, Totals
from tests.telemetry.rows import NOON, insert, row

HOUR = LogFilter(since=NOON - timedelta(hours=1), until=NOON)
BIG_COST = 123_456_789_012  # 123.456789012 credits


def minute(n: int) -> datetime:
    """n minutes into the hour before noon."""
    return NOON - timedelta(hours=1) + timedelta(minutes=n)


async def _traffic(engine: AsyncEngine) -> None:
    """Six calls in the hour before noon, and one the evening before."""
    await insert(
        engine,
        [
            row(request_id="r1", input_tokens=10, output_tokens=20, cost_units=1_000,
                latency_ms=100, ttft_ms=50, stream=True, created_at=minute(1)),
            row(request_id="r2", input_tokens=5, output_tokens=5, cost_units=500,
                latency_ms=200, created_at=minute(2)),
            row(request_id="r3", status_code=502, error="p1: upstream failed",
                latency_ms=300, created_at=minute(3)),
            row(request_id="r4", user_id=2, key_id=22, api="messages", model="m-b",
                provider="p2", provider_model="b", input_tokens=100, output_tokens=50,
                cost_units=BIG_COST, latency_ms=400, ttft_ms=100, stream=True,
                created_at=minute(4)),
            row(request_id="r5", user_id=2, key_id=22, model="m-b", provider="p2",
                provider_model="b", status_code=499, cost_units=7, latency_ms=50,
                created_at=minute(5)),
            row(request_id="r6", user_id=2, key_id=22, model="m-b", provider="p2",
                provider_model="b", status_code=429, latency_ms=10, created_at=minute(6)),
            row(request_id="old", cost_units=999, latency_ms=1,
                created_at=datetime(2025, 1, 9, 23, 0, tzinfo=UTC)),
        ],
    )  # fmt: skip


async def test_realtime_totals_and_percentiles_are_exact(engine: AsyncEngine) -> None:
    await _traffic(engine)
    found = await stats.realtime(engine, HOUR)
    assert found.totals == Totals(
        requests=6,
        errors=2,
        cancelled=1,
        input_tokens=115,
        output_tokens=75,
        cost_units=1_000 + 500 + BIG_COST + 7,
    )
    assert found.totals.error_rate == round(2 / 6, 6)
    # Successful latencies 100, 200, 400; nearest-rank p50 is the 2nd, p95 the 3rd.
    assert found.latency_ms == Percentiles(samples=3, p50=200, p95=400)
    assert found.ttft_ms == Percentiles(samples=2, p50=50, p95=100)
    assert (found.since, found.until) == (HOUR.since, HOUR.until)


async def test_no_rows_give_zeros_and_no_percentiles(engine: AsyncEngine) -> None:
    found = await stats.realtime(engine, HOUR)
    assert found.totals == Totals()
    assert found.totals.error_rate is None
    assert found.latency_ms == found.ttft_ms == Percentiles(0, None, None)
    assert await stats.error_rates(engine, log.provider, HOUR) == []
    assert await stats.by_user(engine, HOUR, 10) == []
    assert await request_list.models(engine, HOUR, 10) == []
    counts = await request_list.counts(engine, HOUR)
    assert (counts.requests, counts.by_status, counts.by_api) == (0, {}, {})
    assert counts.by_outcome == {"ok": 0, "error": 0, "cancelled": 0}
    assert (await request_list.page(engine, HOUR, 10)).rows == []


async def test_error_rates_by_provider_name_each_error_status(engine: AsyncEngine) -> None:
    await _traffic(engine)
    groups = await stats.error_rates(engine, log.provider, HOUR)
    assert [(g.key, g.totals.requests, g.totals.errors, g.error_codes) for g in groups] == [
        ("p1", 3, 1, {502: 1}),
        ("p2", 3, 1, {429: 1}),
    ]
    assert groups[1].totals.cancelled == 1


async def test_filters_narrow_every_figure(engine: AsyncEngine) -> None:
    await _traffic(engine)
    by_model = LogFilter(since=HOUR.since, until=HOUR.until, model="m-b")
    assert (await stats.totals(engine, by_model)).requests == 3
    for status, expected in (("ok", 3), ("error", 2), ("cancelled", 1), ("4xx", 2), ("502", 1)):
        where = LogFilter(since=HOUR.since, until=HOUR.until, status=status)
        assert (await stats.totals(engine, where)).requests == expected, status
    assert (await stats.totals(engine, LogFilter(user_id=2, key_id=22))).requests == 3
    assert (await stats.totals(engine, LogFilter(api="messages"))).cost_units == BIG_COST
    assert (await stats.totals(engine, LogFilter())).requests == 7


async def test_cost_by_user_and_by_day(engine: AsyncEngine) -> None:
    first = await accounts.create_user(engine, "first@example.com")
    second = await accounts.create_user(engine, "second@example.com")
    assert (first.id, second.id) == (1, 2)
    await _traffic(engine)
    users = await stats.by_user(engine, HOUR, 10)
    assert [(g.key, g.label, g.totals.requests, g.totals.cost_units) for g in users] == [
        (2, "second@example.com", 3, BIG_COST + 7),
        (1, "first@example.com", 3, 1_500),
    ]
    three_days = LogFilter(
        since=datetime(2025, 1, 9, tzinfo=UTC), until=datetime(2025, 1, 12, tzinfo=UTC)
    )
    days = await stats.by_day(engine, three_days)
    assert [(g.key, g.totals.requests, g.totals.cost_units) for g in days] == [
        ("2025-01-09", 1, 999),
        ("2025-01-10", 6, 1_500 + BIG_COST + 7),
        ("2025-01-11", 0, 0),
    ]


async def test_grouped_by_model_is_most_costly_first_and_limited(engine: AsyncEngine) -> None:
    await _traffic(engine)
    groups = await stats.grouped(engine, log.model, HOUR)
    assert [(g.key, g.totals.cost_units) for g in groups] == [("m-b", BIG_COST + 7), ("m-a", 1500)]
    assert [g.key for g in await stats.grouped(engine, log.model, HOUR, limit=1)] == ["m-b"]


async def test_model_summaries_have_latency_of_successful_calls(engine: AsyncEngine) -> None:
    await _traffic(engine)
    summaries = {m.group.key: m for m in await request_list.models(engine, HOUR, 10)}
    a, b = summaries["m-a"], summaries["m-b"]
    assert (a.group.totals.requests, a.group.totals.errors) == (3, 1)
    assert a.avg_latency_ms == 150.0
    assert a.latency_ms == Percentiles(2, 100, 200)
    assert a.ttft_ms == Percentiles(1, 50, 50)
    assert (b.group.totals.requests, b.avg_latency_ms, b.latency_ms) == (
        3,
        400.0,
        Percentiles(1, 400, 400),
    )


async def test_counts_by_outcome_status_and_api(engine: AsyncEngine) -> None:
    await _traffic(engine)
    counts = await request_list.counts(engine, HOUR)
    assert counts.requests == 6
    assert counts.by_outcome == {"ok": 3, "error": 2, "cancelled": 1}
    assert counts.by_status == {200: 3, 429: 1, 499: 1, 502: 1}
    assert counts.by_api == {"chat.completions": 5, "messages": 1}


async def test_pages_walk_the_log_newest_first_without_gaps_or_repeats(
    engine: AsyncEngine,
) -> None:
    await _traffic(engine)
    await insert(engine, [row(request_id="tie", created_at=minute(6))])  # same time as r6
    seen: list[str] = []
    after = None
    for _ in range(10):
        found = await request_list.page(engine, LogFilter(), 2, after)
        seen += [r["request_id"] for r in found.rows]
        after = found.after
        if after is None:
            break
    assert seen == ["tie", "r6", "r5", "r4", "r3", "r2", "r1", "old"]  # ties: newest id first
    first = (await request_list.page(engine, HOUR, 1)).rows[0]
    assert first["created_at"] == minute(6)
    assert first["created_at"].tzinfo is not None


async def test_pages_follow_the_filters(engine: AsyncEngine) -> None:
    await _traffic(engine)
    errors = await request_list.page(engine, LogFilter(status="error"), 10)
    assert [r["request_id"] for r in errors.rows] == ["r6", "r3"]
    assert errors.after is None
    r4 = (await request_list.page(engine, LogFilter(model="m-b", api="messages"), 10)).rows
    assert [(r["request_id"], r["cost_units"], r["ttft_ms"]) for r in r4] == [("r4", BIG_COST, 100)]

"""Traffic statistics from the request log, for holders of `monitoring:read`.

GET /api/monitoring/stats/realtime, /error-rates, /cost-analysis, /chat-requests,
/chat-requests/counts, /chat-requests/models and /anomalies.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gatewayz.accounts.permissions import require_permission
from gatewayz.api import monitoring_views as view
from gatewayz.api.deps import EngineDep
from gatewayz.api.monitoring_params import decode_cursor, duration, encode_cursor, filters
from gatewayz.telemetry import anomalies, request_list, stats
from gatewayz.telemetry.log_query import LogFilter, log

router = APIRouter(
    prefix="/api/monitoring",
    tags=["monitoring"],
    dependencies=[Depends(require_permission("monitoring:read"))],
)

Day = Annotated[LogFilter, Depends(filters("24h"))]
Week = Annotated[LogFilter, Depends(filters("7d"))]
AllTime = Annotated[LogFilter, Depends(filters(None))]
Top = Annotated[int, Query(ge=1, le=500, description="Rows per list.")]


@router.get("/stats/realtime")
async def realtime(
    engine: EngineDep, minutes: Annotated[int, Query(ge=1, le=60)] = 5
) -> dict[str, Any]:
    """The last `minutes`: requests/s, error rate, p50/p95 latency and TTFT, tokens/s, cost."""
    until = datetime.now(UTC)
    where = LogFilter(since=until - timedelta(minutes=minutes), until=until)
    return view.realtime(await stats.realtime(engine, where))


@router.get("/error-rates")
async def error_rates(engine: EngineDep, where: Day) -> dict[str, Any]:
    """Errors by provider and by model, with the count of each error status."""
    return {
        "window": view.window(where),
        "totals": view.totals(await stats.totals(engine, where)),
        "by_provider": [
            view.error_group("provider", g)
            for g in await stats.error_rates(engine, log.provider, where)
        ],
        "by_model": [
            view.error_group("model", g) for g in await stats.error_rates(engine, log.model, where)
        ],
    }


@router.get("/cost-analysis")
async def cost_analysis(engine: EngineDep, where: Week, limit: Top = 50) -> dict[str, Any]:
    """Cost, tokens and requests by model, provider, user and UTC day."""
    days = await stats.by_day(engine, where) if where.since is not None else []
    return {
        "window": view.window(where),
        "totals": view.totals(await stats.totals(engine, where)),
        "by_model": [
            view.group("model", g) for g in await stats.grouped(engine, log.model, where, limit)
        ],
        "by_provider": [
            view.group("provider", g)
            for g in await stats.grouped(engine, log.provider, where, limit)
        ],
        "by_user": [view.group("user_id", g) for g in await stats.by_user(engine, where, limit)],
        "by_day": [view.group("date", g) for g in days],
    }


@router.get("/chat-requests")
async def chat_requests(
    engine: EngineDep,
    where: AllTime,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> dict[str, Any]:
    """The request log, newest first, one page at a time."""
    found = await request_list.page(engine, where, limit, decode_cursor(cursor))
    return {
        "data": [view.log_row(row) for row in found.rows],
        "has_more": found.after is not None,
        "next_cursor": encode_cursor(found.after),
    }


@router.get("/chat-requests/counts")
async def chat_request_counts(engine: EngineDep, where: Day) -> dict[str, Any]:
    """How many calls, by outcome, status code and API."""
    counts = await request_list.counts(engine, where)
    return {"window": view.window(where), **view.counts(counts)}


@router.get("/chat-requests/models")
async def chat_request_models(engine: EngineDep, where: Day, limit: Top = 100) -> dict[str, Any]:
    """Per requested model: calls, tokens, cost, mean and p50/p95 latency and TTFT."""
    summaries = await request_list.models(engine, where, limit)
    return {"window": view.window(where), "data": [view.model(m) for m in summaries]}


@router.get("/anomalies")
async def anomaly_report(
    engine: EngineDep,
    window: Annotated[str, Query(description="The recent window, e.g. 15m.")] = "15m",
    baseline: Annotated[str, Query(description="The window before it, e.g. 24h.")] = "24h",
) -> dict[str, Any]:
    """Routes whose recent error rate or p95 latency is far above their baseline."""
    rules = anomalies.Rules()
    recent, before = anomalies.windows(
        datetime.now(UTC), duration(window, "window"), duration(baseline, "baseline")
    )
    found = await anomalies.detect(engine, recent, before, rules)
    return {
        "window": view.window(recent),
        "baseline": view.window(before),
        "rules": view.rules(rules),
        "anomalies": [view.anomaly(a) for a in found],
    }

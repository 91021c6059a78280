"""Operators' pages on traffic: provider health, traffic over time, the request log. Each
reads the monitoring API (permission `monitoring:read`, checked by the API itself)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gatewayz.billing.money import format_credits
from gatewayz.telemetry import stats
from gatewayz.telemetry.log_query import LogFilter
from gatewayz.ui.charts import bar_chart
from gatewayz.ui.render import page
from gatewayz.ui.visit import Refused, Visit, visit

router = APIRouter(prefix="/admin")
Viewing = Annotated[Visit, Depends(visit)]
LOG_FILTERS = ("model", "provider", "user_id", "key_id", "api", "status", "window")
HOURS = 24


@router.get("/providers")
async def providers(view: Viewing) -> Response:
    """Every enabled provider: state, circuits, error rate, latency, last error."""
    health = await view.client().get("/api/monitoring/health")
    if not health.ok:
        raise Refused(health.status, health.error)
    return page(view, "admin/providers.html", title="Providers", providers=health.body["providers"])


@router.get("/traffic")
async def traffic(view: Viewing) -> Response:
    """The last hour as the API reports it, and request rate, error rate, latency and cost
    for each of the last 24 hours, from the same request-log statistics."""
    now_stats = await view.client().get("/api/monitoring/stats/realtime", minutes=60)
    if not now_stats.ok:  # the API's own permission check: monitoring:read
        raise Refused(now_stats.status, now_stats.error)
    hours = await _hourly(view, datetime.now(UTC))
    return page(
        view,
        "admin/traffic.html",
        title="Traffic",
        now=now_stats.body,
        hours=hours,
        charts=[
            bar_chart("Requests per hour", [(h["label"], h["requests"]) for h in hours]),
            bar_chart(
                "Error rate per hour (%)",
                [(h["label"], Decimal(str(round((h["error_rate"] or 0) * 100, 2)))) for h in hours],
            ),
            bar_chart("Latency p95 per hour (ms)", [(h["label"], h["p95"]) for h in hours]),
            bar_chart("Cost per hour (credits)", [(h["label"], Decimal(h["cost"])) for h in hours]),
        ],
    )


async def _hourly(view: Visit, now: datetime) -> list[dict[str, Any]]:
    """One row per hour, oldest first, from telemetry.stats.realtime (the statistic behind
    GET /api/monitoring/stats/realtime)."""
    engine = view.services.engine
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    rows = []
    for back in range(HOURS, 0, -1):
        since = end - timedelta(hours=back)
        found = await stats.realtime(
            engine, LogFilter(since=since, until=since + timedelta(hours=1))
        )
        totals = found.totals
        rows.append(
            {
                "label": since.strftime("%H:00"),
                "since": since.isoformat(),
                "requests": totals.requests,
                "errors": totals.errors,
                "error_rate": totals.error_rate,
                "p50": found.latency_ms.p50,
                "p95": found.latency_ms.p95,
                "cost": format_credits(totals.cost_units),
            }
        )
    return rows


@router.get("/requests")
async def requests(view: Viewing, cursor: str | None = None) -> Response:
    """The request log, newest first, filtered as GET /api/monitoring/chat-requests is."""
    query = view.request.query_params
    filters = {name: query.get(name, "").strip() for name in LOG_FILTERS}
    found = await view.client().get(
        "/api/monitoring/chat-requests", limit=50, cursor=cursor, **filters
    )
    if found.status == 403:
        raise Refused(found.status, found.error)
    return page(
        view,
        "admin/requests.html",
        found.status,
        title="Request log",
        error=found.error,
        rows=found.body["data"] if found.ok else [],
        next_cursor=found.body.get("next_cursor") if found.ok else None,
        filters=filters,
    )

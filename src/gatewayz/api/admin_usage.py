"""GET /admin/usage: requests, tokens and cost across all users; GET /admin/shortfalls: calls
charged more than their credit hold covered (both `usage:read`)."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.permissions import require_permission
from gatewayz.api import account_views as view
from gatewayz.api.admin_params import From, QueryId, Text, To, time_range
from gatewayz.api.deps import EngineDep
from gatewayz.api.monitoring_views import totals, when
from gatewayz.billing.transactions import shortfalls
from gatewayz.telemetry import stats
from gatewayz.telemetry.log_query import LogFilter
from gatewayz.telemetry.usage_report import Grouping, usage

router = APIRouter(prefix="/admin", tags=["admin"])

DEFAULT_SPAN = timedelta(days=30)
Top = Annotated[int, Query(ge=1, le=1000, description="Most groups listed (not for days).")]
AdminGrouping = Annotated[Grouping, Query(description="user, model, key or day.")]


@router.get("/usage", dependencies=[Depends(require_permission("usage:read"))])
async def admin_usage(
    engine: EngineDep,
    start: From = None,
    to: To = None,
    group_by: AdminGrouping = "model",
    user_id: QueryId = None,
    model: Annotated[Text | None, Query(max_length=300)] = None,
    limit: Top = 100,
) -> dict[str, Any]:
    """Usage in [from, to), grouped, with the totals of the whole range."""
    since, until = time_range(start, to, DEFAULT_SPAN)
    where = LogFilter(since=since, until=until, user_id=user_id, model=model)
    return await usage_response(engine, where, group_by, limit)


@router.get("/shortfalls", dependencies=[Depends(require_permission("usage:read"))])
async def admin_shortfalls(
    engine: EngineDep,
    user_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[QueryId, Query(description="next_before_id of a page.")] = None,
) -> dict[str, Any]:
    """Usage ledger rows whose cost exceeded the call's hold, newest first; pass
    `next_before_id` as `before_id` for the next page (null: no more)."""
    async with engine.connect() as conn:
        rows = await shortfalls(conn, limit=limit + 1, before_id=before_id, user_id=user_id)
    page = rows[:limit]
    return {
        "data": [view.shortfall(row) for row in page],
        "next_before_id": page[-1].transaction.id if len(rows) > limit else None,
    }


async def usage_response(
    engine: AsyncEngine, where: LogFilter, group_by: Grouping, limit: int
) -> dict[str, Any]:
    """The JSON of a usage report: range, grouping, totals and groups."""
    groups = await usage(engine, where, group_by, limit)
    overall = totals(await stats.totals(engine, where))
    return {
        "from": when(where.since),
        "to": when(where.until),
        "group_by": group_by,
        "totals": {name: overall[name] for name in _TOTALS},
        "data": [view.usage_group(group_by, g) for g in groups],
    }


_TOTALS = ("requests", "errors", "input_tokens", "output_tokens", "total_tokens", "cost")

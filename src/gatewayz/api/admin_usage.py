"""GET /admin/usage: requests, tokens and cost across all users (`usage:read`)."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.permissions import require_permission
from gatewayz.api import account_views as view
from gatewayz.api.admin_params import From, QueryId, Text, To, time_range
from gatewayz.api.monitoring_views import totals, when
from gatewayz.telemetry import stats
from gatewayz.telemetry.log_query import LogFilter
from gatewayz.telemetry.usage_report import Grouping, usage

router = APIRouter(prefix="/admin", tags=["admin"])

DEFAULT_SPAN = timedelta(days=30)
Top = Annotated[int, Query(ge=1, le=1000, description="Most groups listed (not for days).")]
AdminGrouping = Annotated[Grouping, Query(description="user, model, key or day.")]


@router.get("/usage", dependencies=[Depends(require_permission("usage:read"))])
async def admin_usage(
    request: Request,
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
    return await usage_response(request.app.state.engine, where, group_by, limit)


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

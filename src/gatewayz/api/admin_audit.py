"""GET /admin/audit-logs: the audit log, newest first, filtered and paged (`audit:read`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gatewayz.accounts.audit_query import AuditEntry, AuditFilter, audit_entries
from gatewayz.accounts.permissions import require_permission
from gatewayz.api.admin_params import QueryId, Text, parse_time
from gatewayz.api.deps import EngineDep
from gatewayz.api.monitoring_views import when
from gatewayz.errors import InvalidRequest

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/audit-logs", dependencies=[Depends(require_permission("audit:read"))])
async def audit_logs(
    engine: EngineDep,
    event: Annotated[Text | None, Query(max_length=64)] = None,
    actor_user_id: QueryId = None,
    target_type: Annotated[Text | None, Query(max_length=32)] = None,
    target_id: Annotated[Text | None, Query(max_length=64)] = None,
    start: Annotated[str | None, Query(alias="from", description="ISO 8601.")] = None,
    to: Annotated[str | None, Query(description="ISO 8601, exclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[QueryId, Query(description="next_before_id of a page.")] = None,
) -> dict[str, Any]:
    """Entries matching every filter given, newest first; pass `next_before_id` as
    `before_id` for the next page (null: no more)."""
    where = AuditFilter(
        event=event,
        actor_user_id=actor_user_id,
        target_type=target_type,
        target_id=target_id,
        since=parse_time(start, "from"),
        until=parse_time(to, "to"),
    )
    if where.since and where.until and where.since >= where.until:
        raise InvalidRequest("from: must be before to.", param="from")
    async with engine.connect() as conn:
        entries = await audit_entries(conn, where, limit=limit + 1, before_id=before_id)
    page = entries[:limit]
    return {
        "data": [_entry(e) for e in page],
        "next_before_id": page[-1].id if len(entries) > limit else None,
    }


def _entry(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "event": e.event,
        "actor_user_id": e.actor_user_id,
        "actor_key_id": e.actor_key_id,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "source_ip": e.source_ip,
        "details": e.details,
        "created_at": when(e.created_at),
    }

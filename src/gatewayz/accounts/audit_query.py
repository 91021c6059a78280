"""Reading the audit log: filtered, newest first, a page at a time (a cursor by row id)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.store.tables import audit_logs


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit rows to read; None means no restriction."""

    event: str | None = None
    actor_user_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        c = audit_logs.c
        out: list[ColumnElement[bool]] = [
            column == value
            for column, value in (
                (c.event, self.event),
                (c.actor_user_id, self.actor_user_id),
                (c.target_type, self.target_type),
                (c.target_id, self.target_id),
            )
            if value is not None
        ]
        if self.since is not None:
            out.append(c.created_at >= self.since)
        if self.until is not None:
            out.append(c.created_at < self.until)
        return out


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    event: str
    actor_user_id: int | None
    actor_key_id: int | None
    target_type: str | None
    target_id: str | None
    source_ip: str | None
    details: dict[str, Any]
    created_at: datetime


async def audit_entries(
    conn: AsyncConnection, where: AuditFilter, *, limit: int, before_id: int | None = None
) -> list[AuditEntry]:
    """Up to `limit` matching rows with ids below `before_id`, newest first."""
    c = audit_logs.c
    query = select(
        c.id,
        c.event,
        c.actor_user_id,
        c.actor_key_id,
        c.target_type,
        c.target_id,
        c.source_ip,
        c.details,
        c.created_at,
    ).where(*where.clauses())
    if before_id is not None:
        query = query.where(c.id < before_id)
    rows = (await conn.execute(query.order_by(c.id.desc()).limit(limit))).all()
    return [
        AuditEntry(*row[:7], orjson.loads(row.details) if row.details else {}, row.created_at)
        for row in rows
    ]

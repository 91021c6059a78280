"""The audit log: security-relevant events with actor, target, time and source address.

Events caused by an administrator's change are written in the change's own transaction
(`record`), so the log and the change cannot disagree. Events that can come in floods
(refused keys, restriction hits) are queued on the batch writer (`queue`), written off the
request path and never dropped.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.store.batch import BatchWriter
from gatewayz.store.bounded import fit, text_limits
from gatewayz.store.tables import audit_logs

SINK = "audit"
_LIMITS = text_limits(audit_logs)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited event; `details` never holds a secret."""

    event: str
    actor_user_id: int | None = None
    actor_key_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    source_ip: str | None = None
    details: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "actor_user_id": self.actor_user_id,
            "actor_key_id": self.actor_key_id,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "source_ip": self.source_ip,
            "details": orjson.dumps(self.details).decode() if self.details else None,
            "created_at": self.created_at,
        }


def source_ip(request: Request) -> str | None:
    """The client's address as the server saw it (behind a proxy, set uvicorn's
    `--forwarded-allow-ips` so this is the real client)."""
    return request.client.host if request.client else None


async def record(conn: AsyncConnection, event: AuditEvent) -> None:
    """Write the event in the caller's transaction."""
    await conn.execute(audit_logs.insert().values(**event.row()))


def queue(writer: BatchWriter, event: AuditEvent) -> None:
    """Write the event off the request path."""
    writer.add(SINK, event)


async def write(conn: AsyncConnection, events: list[AuditEvent]) -> None:
    """The batch writer's sink for queued events; text longer than its column is cut to
    fit, so that one event cannot fail the batch."""
    await conn.execute(audit_logs.insert(), [fit(event.row(), _LIMITS) for event in events])

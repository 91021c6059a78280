"""Failed dashboard sign-ins: each is audited as `auth.signin_failed`, and the audit log is
what limits them. Once an email has `per_email` failures, or an address `per_address`, within
the window, further attempts are refused before any password is checked, and not audited
(so a flood writes at most those many rows per window). Counting in the database makes the
limit hold across every gateway process."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import audit
from gatewayz.store.tables import audit_logs

EVENT = "auth.signin_failed"


def email_digest(email: str) -> str:
    """How a failed sign-in names the email tried (whatever was typed, never stored as is)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignInGuard:
    engine: AsyncEngine
    window: timedelta
    per_email: int
    per_address: int

    async def blocked(self, email: str | None, address: str | None) -> bool:
        """Whether an attempt for `email` (None for an API key) from `address` is refused."""
        checks: list[tuple[ColumnElement[bool], int]] = []
        if email is not None:
            checks.append((audit_logs.c.target_id == email_digest(email), self.per_email))
        if address:
            checks.append((audit_logs.c.source_ip == address, self.per_address))
        if not checks:
            return False
        counts = (func.coalesce(func.sum(case((match, 1), else_=0)), 0) for match, _ in checks)
        query = select(*counts).where(
            audit_logs.c.event == EVENT,
            audit_logs.c.created_at >= datetime.now(UTC) - self.window,
            or_(*(match for match, _ in checks)),
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return any(int(count) >= most for count, (_, most) in zip(row, checks, strict=True))

    async def failed(self, email: str | None, address: str | None, reason: str) -> None:
        """Audit a failed attempt now (in its own transaction, so the next attempt counts it)."""
        event = audit.AuditEvent(
            EVENT,
            actor_user_id=None,
            target_type="email" if email is not None else "api_key",
            target_id=email_digest(email) if email is not None else None,
            source_ip=address,
            details={"reason": reason, "method": "password" if email is not None else "api_key"},
        )
        async with self.engine.begin() as conn:
            await audit.record(conn, event)

    async def too_many(self, event: str, address: str | None, most: int) -> bool:
        """Whether `address` caused `most` or more `event`s (sign-ups, reset requests) within
        the window."""
        if not address:
            return False
        query = select(func.count()).where(
            audit_logs.c.event == event,
            audit_logs.c.created_at >= datetime.now(UTC) - self.window,
            audit_logs.c.source_ip == address,
        )
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0) >= most

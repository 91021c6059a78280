"""The audit event of an administrator's action: who, from where, on what."""

from typing import Any

from fastapi import Request

from gatewayz.accounts.audit import AuditEvent, source_ip
from gatewayz.accounts.auth import Principal


def admin_event(
    request: Request,
    actor: Principal,
    event: str,
    target_type: str,
    target_id: object,
    **details: Any,
) -> AuditEvent:
    """An AuditEvent for `event`, done by `actor` through this request to a target."""
    return AuditEvent(
        event=event,
        actor_user_id=actor.user_id,
        actor_key_id=actor.key_id,
        target_type=target_type,
        target_id=str(target_id),
        source_ip=source_ip(request),
        details=details or None,
    )

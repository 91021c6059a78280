"""Per-request checks of a key's restrictions, and the audit of refused requests.

A request outside a restriction is refused with 403 naming the restriction (in the format of
the API called) and audited as `key.restriction_denied`; a missing, unknown or revoked key
is a 401, audited as `auth.failed` with at most the key's display prefix.
"""

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import Request

from gatewayz.accounts import audit
from gatewayz.accounts.key_policy import (
    CALL_SCOPES,
    KeyPolicy,
    address_allowed,
    referrer_allowed,
    scope_of,
)
from gatewayz.accounts.keys import loggable_prefix
from gatewayz.app_services import services_of
from gatewayz.errors import PermissionDenied
from gatewayz.store.batch import BatchWriter


class KeyRestricted(PermissionDenied):
    """A key used outside one of its restrictions; `restriction` names it."""

    def __init__(self, restriction: str, message: str) -> None:
        super().__init__(f"{message} ({restriction})", code=f"key_{restriction}")
        self.restriction = restriction


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def rotated_out() -> KeyRestricted:
    """The refusal of anything but calls and reads to a key rotated out (in its grace)."""
    return KeyRestricted(
        "rotated",
        "This API key was rotated: until its grace period ends it may make calls, but not "
        "manage keys or change the account; use the key that replaced it",
    )


def violation(
    policy: KeyPolicy,
    path: str,
    address: str | None,
    origin: str | None,
    now: datetime,
    method: str = "GET",
) -> KeyRestricted | None:
    """The first restriction the request breaks, or None.

    `origin` is the request's Origin header, else its Referer header.
    """
    expires_at = policy.expires_at
    if expires_at is not None and now >= expires_at:
        when = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if policy.rotated:
            return KeyRestricted("expires_at", f"This API key was rotated; it expired at {when}")
        return KeyRestricted("expires_at", f"This API key expired at {when}")
    if policy.rotated and method not in _READS and scope_of(path) not in CALL_SCOPES:
        return rotated_out()
    if policy.networks and not (address and address_allowed(policy.networks, address)):
        return KeyRestricted(
            "ip_allowlist", f"This API key is not allowed from address {address or 'unknown'}"
        )
    if policy.referrers:
        host = urlsplit(origin).hostname if origin else None
        if not host:
            return KeyRestricted(
                "referrers",
                "This API key only works from allowed referrers; the request has no Referer "
                "or Origin header",
            )
        if not referrer_allowed(policy.referrers, host):
            return KeyRestricted("referrers", f"Referrer {host} is not allowed for this API key")
    if policy.scopes is not None:
        scope = scope_of(path)
        if scope is None:
            return KeyRestricted("scopes", f"This API key's scopes do not cover {path}")
        if scope not in policy.scopes:
            return KeyRestricted("scopes", f"This API key is not granted scope '{scope}'")
    return None


def enforce(request: Request, user_id: int, key_id: int, policy: KeyPolicy) -> None:
    """Refuse (and audit) a request that breaks one of the key's restrictions."""
    headers = request.headers
    refused = violation(
        policy,
        request.url.path,
        audit.source_ip(request),
        headers.get("origin") or headers.get("referer"),
        datetime.now(UTC),
        request.method,
    )
    if refused is not None:
        audit_denial(request, user_id, key_id, refused.restriction)
        raise refused


def require_scope(
    request: Request, user_id: int, key_id: int, policy: KeyPolicy, scope: str
) -> None:
    """Refuse (and audit) a request that needs `scope` beyond its path's, e.g. a chat
    completion naming a chat session, when the key's scopes do not grant it."""
    if policy.scopes is not None and scope not in policy.scopes:
        refused = KeyRestricted("scopes", f"This API key is not granted scope '{scope}'")
        audit_denial(request, user_id, key_id, refused.restriction)
        raise refused


def audit_denial(request: Request, user_id: int, key_id: int, restriction: str) -> None:
    """Queue a `key.restriction_denied` event for a refused request."""
    audit.queue(
        services_of(request.app).writer,
        audit.AuditEvent(
            "key.restriction_denied",
            actor_user_id=user_id,
            actor_key_id=key_id,
            target_type="api_key",
            target_id=str(key_id),
            source_ip=audit.source_ip(request),
            details={"restriction": restriction, "path": request.url.path},
        ),
    )


class FailedLogins:
    """Audits refused keys as `auth.failed`: address, path and the key's display prefix at
    most, and at most `per_minute` events per client address a minute, so that a flood of
    bad keys cannot flood the audit log (the last audited event of a minute says so)."""

    def __init__(self, writer: BatchWriter, per_minute: int = 20) -> None:
        self._writer = writer
        self._per_minute = per_minute
        self._minute = 0
        self._seen: dict[str, int] = {}

    def failed(self, request: Request, presented: str | None) -> None:
        address = audit.source_ip(request)
        minute = int(time.monotonic() // 60)
        if minute != self._minute:
            self._minute, self._seen = minute, {}
        count = self._seen[address or ""] = self._seen.get(address or "", 0) + 1
        if count > self._per_minute:
            return
        details: dict[str, str | int] = {"path": request.url.path}
        if presented:
            details["reason"] = "invalid key"
            prefix = loggable_prefix(presented)
            if prefix is not None:
                details["key_prefix"] = prefix
        else:
            details["reason"] = "missing key"
        if count == self._per_minute:
            details["further_failures_not_audited_this_minute"] = 1
        audit.queue(
            self._writer, audit.AuditEvent("auth.failed", source_ip=address, details=details)
        )

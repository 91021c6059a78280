"""A user's API keys with their restrictions and rate limits: create, read, change, revoke,
rotate. Each change is written with its audit event in one transaction.

Restrictions come in as column values (`scopes`, `expires_at`, `ip_allowlist`, `referrers`,
`spend_limit_units`; lists already validated and JSON-encoded) and rate limits as
`{"rpm": 10, "tpm": None, ...}` (None clears one).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.accounts import audit
from gatewayz.accounts.key_policy import as_utc
from gatewayz.accounts.keys import Environment, display_prefix, generate_key, hash_key
from gatewayz.accounts.users import AccountError
from gatewayz.limits import overrides
from gatewayz.limits.settings import LimitValues
from gatewayz.store.tables import api_keys, rate_limits

RESTRICTIONS = ("scopes", "expires_at", "ip_allowlist", "referrers", "spend_limit_units")


class KeyNotFound(AccountError):
    """No key with that id belongs to the user."""


class KeyStateError(AccountError):
    """The key's state does not allow the change (revoked, already rotated, too many keys)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, for its audit event."""

    user_id: int
    key_id: int | None
    source_ip: str | None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """Everything that may be shown about a key after its creation (never the key)."""

    id: int
    name: str
    environment: str
    display_prefix: str
    scopes: list[str] | None
    expires_at: datetime | None
    ip_allowlist: list[str] | None
    referrers: list[str] | None
    spend_limit_units: int | None
    spent_units: int
    replaced_by: int | None
    created_at: datetime
    revoked_at: datetime | None
    rate_limits: LimitValues | None

    def status(self, now: datetime) -> str:
        """active, rotating (replaced, in its grace period), expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "rotating" if self.replaced_by is not None else "active"


_COLUMNS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.environment,
    api_keys.c.display_prefix,
    api_keys.c.scopes,
    api_keys.c.expires_at,
    api_keys.c.ip_allowlist,
    api_keys.c.referrers,
    api_keys.c.spend_limit_units,
    api_keys.c.spent_units,
    api_keys.c.replaced_by,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
    *(rate_limits.c[name] for name in overrides.FIELDS),
)
_SELECT = select(*_COLUMNS).select_from(
    api_keys.outerjoin(rate_limits, rate_limits.c.key_id == api_keys.c.id)
)


def _record(row: Row[Any]) -> KeyRecord:
    values = row._mapping
    limits = {name: values[name] for name in overrides.FIELDS}
    return KeyRecord(
        id=values["id"],
        name=values["name"],
        environment=values["environment"],
        display_prefix=values["display_prefix"],
        scopes=_json(values["scopes"]),
        expires_at=as_utc(values["expires_at"]),
        ip_allowlist=_json(values["ip_allowlist"]),
        referrers=_json(values["referrers"]),
        spend_limit_units=values["spend_limit_units"],
        spent_units=values["spent_units"],
        replaced_by=values["replaced_by"],
        created_at=as_utc(values["created_at"]) or datetime.now(UTC),
        revoked_at=as_utc(values["revoked_at"]),
        rate_limits=LimitValues(**limits) if any(limits.values()) else None,
    )


def _json(text: str | None) -> list[str] | None:
    return None if text is None else list(orjson.loads(text))


async def list_records(engine: AsyncEngine, user_id: int) -> list[KeyRecord]:
    """Every key of the user, revoked and expired ones included, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(_SELECT.where(api_keys.c.user_id == user_id).order_by("id"))
        return [_record(row) for row in rows]


async def get_record(engine: AsyncEngine, user_id: int, key_id: int) -> KeyRecord:
    async with engine.connect() as conn:
        return await _get(conn, user_id, key_id)


async def _get(conn: AsyncConnection, user_id: int, key_id: int) -> KeyRecord:
    query = _SELECT.where(api_keys.c.id == key_id, api_keys.c.user_id == user_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise KeyNotFound(f"No API key {key_id} on this account.")
    return _record(row)


async def create(
    engine: AsyncEngine,
    server_secret: bytes,
    actor: Actor,
    *,
    name: str,
    environment: Environment,
    restrictions: dict[str, Any],
    limits: dict[str, int | None] | None,
    max_keys: int,
) -> tuple[str, KeyRecord]:
    """Create a key for the actor's user; returns the key (the only time it exists in
    plain text) and its record."""
    key = generate_key(environment)
    async with engine.begin() as conn:
        held = await conn.scalar(
            select(func.count()).where(
                api_keys.c.user_id == actor.user_id, api_keys.c.revoked_at.is_(None)
            )
        )
        if (held or 0) >= max_keys:
            raise KeyStateError(f"This account already has {held} keys, the most allowed.")
        key_id = await conn.scalar(
            api_keys.insert()
            .values(
                user_id=actor.user_id,
                name=name,
                environment=environment,
                display_prefix=display_prefix(key),
                key_hash=hash_key(server_secret, key),
                **restrictions,
            )
            .returning(api_keys.c.id)
        )
        if limits:
            await overrides.store_in(conn, limits, key_id=key_id)
        await audit.record(conn, _event("key.created", actor, key_id, {"name": name}))
        return key, await _get(conn, actor.user_id, key_id)


async def update_key(
    engine: AsyncEngine,
    actor: Actor,
    key_id: int,
    changes: dict[str, Any],
    limits: dict[str, int | None] | None,
) -> KeyRecord:
    """Change the name and restrictions in `changes` and the rate limits in `limits`."""
    async with engine.begin() as conn:
        current = await _get(conn, actor.user_id, key_id)
        if current.revoked_at is not None:
            raise KeyStateError(f"API key {key_id} is revoked; it cannot be changed.")
        if changes:
            await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**changes))
        if limits:
            await overrides.store_in(conn, limits, key_id=key_id)
        named = (name.removesuffix("_units") for name in changes)  # the API's field names
        fields = sorted(named) + (["rate_limits"] if limits else [])
        await audit.record(conn, _event("key.updated", actor, key_id, {"fields": fields}))
        return await _get(conn, actor.user_id, key_id)


async def revoke(engine: AsyncEngine, actor: Actor, key_id: int) -> KeyRecord:
    """Revoke the key (it is refused from now on); revoking a revoked key changes nothing."""
    async with engine.begin() as conn:
        current = await _get(conn, actor.user_id, key_id)
        if current.revoked_at is not None:
            return current
        await conn.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=datetime.now(UTC))
        )
        await audit.record(conn, _event("key.revoked", actor, key_id, None))
        return await _get(conn, actor.user_id, key_id)


async def rotate(
    engine: AsyncEngine, server_secret: bytes, actor: Actor, key_id: int, grace_seconds: int
) -> tuple[str, KeyRecord]:
    """Replace the key by a new one with the same name, restrictions, rate limits and spend
    (what its calls still running hold counted as spent); the old one keeps working for
    `grace_seconds`, as the new one. Returns the new key and its record."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await _lock(conn, key_id)
        old = await _get(conn, actor.user_id, key_id)
        if old.status(now) != "active":
            raise KeyStateError(f"API key {key_id} is {old.status(now)}; it cannot be rotated.")
        key = generate_key("test" if old.environment == "test" else "live")
        # One spending limit for both keys: the old key's calls from now on are the new
        # key's (see auth), and its calls still running count on the new key at their hold.
        spent = (api_keys.c.spent_units + api_keys.c.reserved_units).label("spent_units")
        copied = await conn.execute(
            select(*(api_keys.c[name] for name in RESTRICTIONS), spent).where(
                api_keys.c.id == key_id
            )
        )
        new_id = await conn.scalar(
            api_keys.insert()
            .values(
                user_id=actor.user_id,
                name=old.name,
                environment=old.environment,
                display_prefix=display_prefix(key),
                key_hash=hash_key(server_secret, key),
                **copied.one()._mapping,
            )
            .returning(api_keys.c.id)
        )
        ends = now + timedelta(seconds=grace_seconds)
        if old.expires_at is not None:
            ends = min(ends, old.expires_at)
        await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .values(expires_at=ends, replaced_by=new_id)
        )
        if old.rate_limits is not None:
            await overrides.store_in(conn, old.rate_limits.model_dump(), key_id=new_id)
        details = {"new_key_id": new_id, "grace_seconds": grace_seconds}
        await audit.record(conn, _event("key.rotated", actor, key_id, details))
        return key, await _get(conn, actor.user_id, new_id)


async def _lock(conn: AsyncConnection, key_id: int) -> None:
    """Lock the key's row until the transaction ends (SQLite's writes are exclusive anyway:
    take the write lock now with a no-op update)."""
    if conn.dialect.name == "sqlite":
        await conn.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(name=api_keys.c.name)
        )
    else:
        await conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id).with_for_update())


def _event(
    name: str, actor: Actor, key_id: int, details: dict[str, Any] | None
) -> audit.AuditEvent:
    return audit.AuditEvent(
        name,
        actor_user_id=actor.user_id,
        actor_key_id=actor.key_id,
        target_type="api_key",
        target_id=str(key_id),
        source_ip=actor.source_ip,
        details=details,
    )

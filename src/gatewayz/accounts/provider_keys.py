"""Users' own provider keys (bring your own key): checked for shape, stored encrypted, shown
only as a hint. Which providers accept them (`own_keys` on the provider's row), and the
`byok:` settings."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.accounts import audit
from gatewayz.accounts.key_store import Actor
from gatewayz.accounts.secret_box import SecretBox, UndecryptableSecret
from gatewayz.providers.spec import ProviderSpec
from gatewayz.store.tables import provider_keys

_SHAPE = re.compile(r"[\x21-\x7e]{16,1024}")
_HINT_PREFIX = re.compile(r"[A-Za-z0-9]{1,6}[-_]")


class ByokSettings(BaseModel):
    """Calls served with the caller's own provider key (`byok:`)."""

    model_config = ConfigDict(extra="forbid")

    fee_percent: Decimal = Field(default=Decimal("0"), ge=0, le=100, decimal_places=2)
    refresh_seconds: float = Field(default=10.0, gt=0)


class ProviderKeyError(ValueError):
    """A key or provider that cannot be stored; the message never holds the key."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class ProviderKeyInfo:
    """A stored key as it may be shown: the provider and a hint, never the key."""

    provider: str
    hint: str
    created_at: datetime
    updated_at: datetime


def own_key_providers(specs: Iterable[ProviderSpec]) -> dict[str, ProviderSpec]:
    """The providers the operator lets users bring their own key for (`own_keys: true`)."""
    return {spec.name: spec for spec in specs if spec.own_keys}


def checked_key(api_key: str) -> str:
    """The key without surrounding whitespace, if it looks like a key (16 to 1024 visible
    ASCII characters); ProviderKeyError otherwise. Upstream is not asked."""
    key = api_key.strip()
    if not _SHAPE.fullmatch(key):
        raise ProviderKeyError(
            "api_key: must be 16 to 1024 visible ASCII characters without spaces.", "api_key"
        )
    return key


def key_hint(api_key: str) -> str:
    """What may be shown of a key: its vendor prefix (like `sk-`) and its last 4 characters."""
    prefix = _HINT_PREFIX.match(api_key)
    return f"{prefix.group(0) if prefix else ''}...{api_key[-4:]}"


async def put_key(
    engine: AsyncEngine, box: SecretBox, actor: Actor, provider: str, api_key: str
) -> tuple[ProviderKeyInfo, bool]:
    """Store (or replace) the actor's key for `provider`; the key as shown, and whether it is
    new. Audited with its hint."""
    hint = key_hint(api_key)
    values = {"ciphertext": box.encrypt(api_key), "hint": hint, "updated_at": datetime.now(UTC)}
    try:
        created = await _upsert(engine, actor, provider, values)
    except IntegrityError:  # a concurrent first insert of the same key won: replace that
        created = await _upsert(engine, actor, provider, values)
    info = await _info(engine, actor.user_id, provider)
    assert info is not None
    return info, created


async def _upsert(
    engine: AsyncEngine, actor: Actor, provider: str, values: dict[str, object]
) -> bool:
    """Replace the key if there is one, else insert it; whether it was inserted."""
    async with engine.begin() as conn:
        created = await _write(conn, actor.user_id, provider, values)
        event = "provider_key.created" if created else "provider_key.replaced"
        await audit.record(conn, _event(event, actor, provider, str(values["hint"])))
    return created


async def _write(
    conn: AsyncConnection, user_id: int, provider: str, values: dict[str, object]
) -> bool:
    where = (provider_keys.c.user_id == user_id, provider_keys.c.provider == provider)
    replaced = await conn.execute(update(provider_keys).where(*where).values(**values))
    if replaced.rowcount:
        return False
    await conn.execute(
        provider_keys.insert().values(
            user_id=user_id, provider=provider, created_at=values["updated_at"], **values
        )
    )
    return True


async def list_keys(engine: AsyncEngine, user_id: int) -> list[ProviderKeyInfo]:
    """The user's keys, by provider name."""
    query = (
        select(*_INFO_COLUMNS)
        .where(provider_keys.c.user_id == user_id)
        .order_by(provider_keys.c.provider)
    )
    async with engine.connect() as conn:
        return [_to_info(row) for row in await conn.execute(query)]


async def delete_key(engine: AsyncEngine, actor: Actor, provider: str) -> bool:
    """Remove the actor's key for `provider`; whether there was one. Audited."""
    async with engine.begin() as conn:
        removed = await conn.execute(
            delete(provider_keys).where(
                provider_keys.c.user_id == actor.user_id, provider_keys.c.provider == provider
            )
        )
        if removed.rowcount:
            await audit.record(conn, _event("provider_key.deleted", actor, provider, None))
    return bool(removed.rowcount)


async def reencrypt_all(engine: AsyncEngine, box: SecretBox) -> tuple[int, int]:
    """Re-encrypt every stored key under the current server secret: (rewritten, undecryptable).
    Each key is rewritten in its own short transaction, so a large table does not block."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(provider_keys.c.id, provider_keys.c.ciphertext))).all()
    done = failed = 0
    for key_id, ciphertext in rows:
        try:
            rotated = box.rotate(ciphertext)
        except UndecryptableSecret:
            failed += 1
            continue
        async with engine.begin() as conn:
            await conn.execute(
                update(provider_keys)
                .where(provider_keys.c.id == key_id, provider_keys.c.ciphertext == ciphertext)
                .values(ciphertext=rotated)
            )
        done += 1
    return done, failed


async def _info(engine: AsyncEngine, user_id: int, provider: str) -> ProviderKeyInfo | None:
    query = select(*_INFO_COLUMNS).where(
        provider_keys.c.user_id == user_id, provider_keys.c.provider == provider
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else _to_info(row)


_INFO_COLUMNS = (
    provider_keys.c.provider,
    provider_keys.c.hint,
    provider_keys.c.created_at,
    provider_keys.c.updated_at,
)


def _to_info(row: tuple[str, str, datetime, datetime]) -> ProviderKeyInfo:
    provider, hint, created_at, updated_at = row
    return ProviderKeyInfo(provider, hint, _utc(created_at), _utc(updated_at))


def _utc(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite returns it without a zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _event(name: str, actor: Actor, provider: str, hint: str | None) -> audit.AuditEvent:
    return audit.AuditEvent(
        name,
        actor_user_id=actor.user_id,
        actor_key_id=actor.key_id,
        target_type="provider_key",
        target_id=provider,
        source_ip=actor.source_ip,
        details={"hint": hint} if hint else None,
    )

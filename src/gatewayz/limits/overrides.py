"""Limits set in the database for one user or one key, over the configured ones."""

from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.limits.settings import LimitValues
from gatewayz.store.tables import rate_limits

FIELDS = ("rpm", "rpd", "tpm", "concurrency")


@dataclass(frozen=True, slots=True)
class Overrides:
    """Every override in the database, by user id and by key id."""

    users: dict[int, LimitValues] = field(default_factory=dict)
    keys: dict[int, LimitValues] = field(default_factory=dict)


async def load(engine: AsyncEngine) -> Overrides:
    """Read every override (a small table: only users and keys with their own limits)."""
    loaded = Overrides()
    async with engine.connect() as conn:
        for row in await conn.execute(select(rate_limits)):
            values = LimitValues(**{name: getattr(row, name) for name in FIELDS})
            if row.user_id is not None:
                loaded.users[row.user_id] = values
            else:
                loaded.keys[row.key_id] = values
    return loaded


async def store(
    engine: AsyncEngine,
    changes: dict[str, int | None],
    *,
    user_id: int | None = None,
    key_id: int | None = None,
) -> LimitValues:
    """Set (a number) or clear (None) the named limits of one user or key; returns them all."""
    async with engine.begin() as conn:
        return await store_in(conn, changes, user_id=user_id, key_id=key_id)


async def store_in(
    conn: AsyncConnection,
    changes: dict[str, int | None],
    *,
    user_id: int | None = None,
    key_id: int | None = None,
) -> LimitValues:
    """`store`, in the caller's transaction."""
    subject = (
        rate_limits.c.user_id == user_id if user_id is not None else rate_limits.c.key_id == key_id
    )
    found = (await conn.execute(select(rate_limits.c.id).where(subject))).first()
    if found is None:
        await conn.execute(rate_limits.insert().values(user_id=user_id, key_id=key_id))
    await conn.execute(update(rate_limits).where(subject).values(**changes, updated_at=func.now()))
    row = (await conn.execute(select(rate_limits).where(subject))).one()
    return LimitValues(**{name: getattr(row, name) for name in FIELDS})

"""Finding users: search by email substring or id, a page at a time, with a total count."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.store.tables import api_keys, plans, subscriptions, users


@dataclass(frozen=True, slots=True)
class UserSummary:
    """One row of the user list."""

    id: int
    email: str
    role: str
    balance_units: int
    reserved_units: int
    created_at: datetime
    active_keys: int
    plan: str | None


@dataclass(frozen=True, slots=True)
class UserPage:
    total: int
    users: list[UserSummary]


_MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL


def matching(q: str | None) -> list[ColumnElement[bool]]:
    """Users whose email contains `q` (any case), or whose id is `q`."""
    if not q or not q.strip():
        return []
    text = q.strip()
    found: ColumnElement[bool] = users.c.email.contains(text.lower(), autoescape=True)
    if text.isdecimal() and len(text) <= 10 and int(text) <= _MAX_ID:
        found = or_(found, users.c.id == int(text))
    return [found]


async def search_users(conn: AsyncConnection, q: str | None, limit: int, offset: int) -> UserPage:
    """The users matching `q`, by id, from `offset`; `total` counts every match."""
    where = matching(q)
    total = await conn.scalar(select(func.count()).select_from(users).where(*where))
    keys = (
        select(api_keys.c.user_id, func.count().label("n"))
        .where(api_keys.c.revoked_at.is_(None))
        .group_by(api_keys.c.user_id)
        .subquery()
    )
    query = (
        select(
            users.c.id,
            users.c.email,
            users.c.role,
            users.c.balance_units,
            users.c.reserved_units,
            users.c.created_at,
            func.coalesce(keys.c.n, 0),
            plans.c.name,
        )
        .outerjoin(keys, keys.c.user_id == users.c.id)
        .outerjoin(subscriptions, subscriptions.c.user_id == users.c.id)
        .outerjoin(plans, plans.c.id == subscriptions.c.plan_id)
        .where(*where)
        .order_by(users.c.id)
        .limit(limit)
        .offset(offset)
    )
    rows = (await conn.execute(query)).all()
    return UserPage(int(total or 0), [UserSummary(*row) for row in rows])

"""Ledger rows, newest first, a page at a time (a cursor by row id): a user's own, and every
user's shortfalls for administrators."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.store.tables import ledger, users


@dataclass(frozen=True, slots=True)
class Transaction:
    """One ledger row: a change of the balance and the balance after it (for a call, the
    part of its cost its hold did not cover too)."""

    id: int
    amount_units: int
    balance_after_units: int
    kind: str
    reason: str | None
    request_id: str | None
    created_at: datetime
    shortfall_units: int = 0


_COLUMNS = (
    ledger.c.id,
    ledger.c.amount_units,
    ledger.c.balance_after_units,
    ledger.c.kind,
    ledger.c.reason,
    ledger.c.request_id,
    ledger.c.created_at,
    ledger.c.shortfall_units,
)


def _transaction(row: Mapping[Any, Any]) -> Transaction:
    return Transaction(**{column.name: row[column.name] for column in _COLUMNS})


async def transactions(
    conn: AsyncConnection,
    user_id: int,
    *,
    limit: int,
    before_id: int | None = None,
    kind: str | None = None,
) -> list[Transaction]:
    """Up to `limit` of the user's rows with ids below `before_id`, of `kind` if given."""
    query = select(*_COLUMNS).where(ledger.c.user_id == user_id)
    if before_id is not None:
        query = query.where(ledger.c.id < before_id)
    if kind is not None:
        query = query.where(ledger.c.kind == kind)
    rows = (await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))).all()
    return [_transaction(row._mapping) for row in rows]


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A call charged more than its hold covered, and whose it was."""

    user_id: int
    email: str
    transaction: Transaction


async def shortfalls(
    conn: AsyncConnection, *, limit: int, before_id: int | None = None, user_id: int | None = None
) -> list[Shortfall]:
    """Up to `limit` ledger rows with a shortfall, of every user or of `user_id`."""
    query = (
        select(ledger.c.user_id, users.c.email, *_COLUMNS)
        .join(users, users.c.id == ledger.c.user_id)
        .where(ledger.c.shortfall_units > 0)
    )
    if user_id is not None:
        query = query.where(ledger.c.user_id == user_id)
    if before_id is not None:
        query = query.where(ledger.c.id < before_id)
    rows = (await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))).all()
    return [Shortfall(row.user_id, row.email, _transaction(row._mapping)) for row in rows]

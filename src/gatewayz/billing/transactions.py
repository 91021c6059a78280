"""A user's ledger rows, newest first, a page at a time (a cursor by row id)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.store.tables import ledger


@dataclass(frozen=True, slots=True)
class Transaction:
    """One ledger row: a change of the balance and the balance after it."""

    id: int
    amount_units: int
    balance_after_units: int
    kind: str
    reason: str | None
    request_id: str | None
    created_at: datetime


async def transactions(
    conn: AsyncConnection,
    user_id: int,
    *,
    limit: int,
    before_id: int | None = None,
    kind: str | None = None,
) -> list[Transaction]:
    """Up to `limit` of the user's rows with ids below `before_id`, of `kind` if given."""
    query = select(
        ledger.c.id,
        ledger.c.amount_units,
        ledger.c.balance_after_units,
        ledger.c.kind,
        ledger.c.reason,
        ledger.c.request_id,
        ledger.c.created_at,
    ).where(ledger.c.user_id == user_id)
    if before_id is not None:
        query = query.where(ledger.c.id < before_id)
    if kind is not None:
        query = query.where(ledger.c.kind == kind)
    rows = (await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))).all()
    return [Transaction(*row) for row in rows]

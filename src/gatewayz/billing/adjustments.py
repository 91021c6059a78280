"""An administrator adds or removes a user's credits, with a reason, exactly once per key."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.billing.ledger import (
    CreditChange,
    InsufficientBalance,
    apply_change,
    balance_units,
)
from gatewayz.billing.money import format_credits
from gatewayz.store.tables import ledger, users

KIND = "admin_adjustment"
MAX_BALANCE_UNITS = 2**63 - 1  # the balance column holds 64-bit integers


class AdjustmentRefused(Exception):
    """The adjustment cannot be made; the message says why and `field` names the input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


async def adjust_credits(
    conn: AsyncConnection,
    user_id: int,
    amount_units: int,
    reason: str,
    idempotency_key: str | None,
) -> CreditChange:
    """Change the balance by `amount_units` in the caller's transaction.

    A key used before for the same user and amount returns that change (applied_now False);
    used for anything else, a removal larger than the balance, or an addition taking the
    balance past what its column holds, raises AdjustmentRefused and changes nothing. An
    unknown user raises ledger.UnknownUser.
    """
    key = f"admin:{idempotency_key or uuid.uuid4().hex}"
    previous = (
        await conn.execute(
            select(ledger.c.user_id, ledger.c.amount_units).where(ledger.c.idempotency_key == key)
        )
    ).first()
    if previous is not None and tuple(previous) != (user_id, amount_units):
        raise AdjustmentRefused(
            "idempotency_key: already used for a different adjustment.", "idempotency_key"
        )
    if previous is None and amount_units > 0:
        balance = await balance_units(conn, user_id, lock=True)
        if balance + amount_units > MAX_BALANCE_UNITS:
            raise AdjustmentRefused(
                f"amount: the balance would exceed {format_credits(MAX_BALANCE_UNITS)} credits, "
                "the most the gateway stores. Nothing was changed.",
                "amount",
            )
    try:
        return await apply_change(
            conn, user_id, amount_units, kind=KIND, reason=reason, idempotency_key=key
        )
    except InsufficientBalance:
        current = await conn.scalar(select(users.c.balance_units).where(users.c.id == user_id))
        raise AdjustmentRefused(
            f"amount: cannot remove {format_credits(-amount_units)} credits, the balance is "
            f"{format_credits(int(current or 0))}. Nothing was changed.",
            "amount",
        ) from None

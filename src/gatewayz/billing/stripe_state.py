"""What Stripe has said about a PaymentIntent's money: its refunded total and its disputes.

It is kept whether or not the gateway's payment for the intent has completed, so that an
event arriving before the completion is not lost. Every event about an intent first locks
the intent's row (`lock_intent`), which serialises all of them, and the completion, per
intent.

A dispute holds the disputed credits while Stripe holds the money: from the moment a formal
dispute exists (`needs_response`, `under_review`: Stripe withdraws the funds when it opens
one; `charge.dispute.funds_withdrawn` says so for any other) until it closes. Its close is
final, whatever arrives after it: `lost` keeps holding, `won` (and an inquiry's
`warning_closed`, `prevented`, a reinstatement of the funds) releases. Inquiries
(`warning_*`) hold nothing. Before the close, events can only start a hold, never end it,
so the order in which they arrive does not matter.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.store.tables import payment_intents, stripe_disputes

FUNDS_WITHDRAWN = "charge.dispute.funds_withdrawn"
FUNDS_REINSTATED = "charge.dispute.funds_reinstated"
_HOLDING = frozenset({"needs_response", "under_review"})
# Final statuses, and whether the dispute keeps holding the credits once closed with them.
_CLOSED_HOLDS = {
    "lost": True,
    "won": False,
    "warning_closed": False,
    "prevented": False,
    "charge_refunded": False,
}


@dataclass(frozen=True, slots=True)
class DisputeState:
    holds: bool = False
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Dispute:
    """One dispute as Stripe described it in an event."""

    id: str
    payment_intent_id: str
    amount_cents: int
    currency: str
    status: str


@dataclass(frozen=True, slots=True)
class DisputeChange:
    """A dispute's state before and after one event; `status` is the one now recorded."""

    before: DisputeState
    after: DisputeState
    status: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def next_state(current: DisputeState, kind: str, status: str) -> DisputeState:
    """The dispute's state after an event of `kind` showing it in `status`."""
    if current.closed:
        return current
    if status in _CLOSED_HOLDS:
        return DisputeState(holds=_CLOSED_HOLDS[status], closed=True)
    if kind == FUNDS_REINSTATED:
        return DisputeState(holds=False, closed=True)
    if kind == FUNDS_WITHDRAWN or status in _HOLDING:
        return DisputeState(holds=True)
    return current


def dispute_from(item: dict[str, Any]) -> Dispute | None:
    """The dispute a `charge.dispute.*` event shows, or None if it lacks what is needed."""
    dispute_id, intent_id, status = item.get("id"), item.get("payment_intent"), item.get("status")
    amount, currency = item.get("amount"), item.get("currency")
    if not (isinstance(dispute_id, str) and isinstance(intent_id, str) and dispute_id):
        return None
    if not isinstance(status, str) or not isinstance(currency, str):
        return None
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        return None
    return Dispute(dispute_id, intent_id, amount, currency.lower(), status)


async def lock_intent(conn: AsyncConnection, intent_id: str) -> Row[Any]:
    """The intent's row, created if new and locked until the transaction ends."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(
        dialect.insert(payment_intents).values(id=intent_id).on_conflict_do_nothing()
    )
    query = select(payment_intents).where(payment_intents.c.id == intent_id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    return (await conn.execute(query)).one()


async def record_refund(
    conn: AsyncConnection, intent: Row[Any], charge_id: object, refunded_cents: int
) -> bool:
    """Raise the intent's refunded total to `refunded_cents` (Stripe's `amount_refunded`,
    cumulative); False when it was already that high (an old or repeated state)."""
    if refunded_cents <= intent.refunded_cents:
        return False
    await conn.execute(
        update(payment_intents)
        .where(payment_intents.c.id == intent.id)
        .values(
            refunded_cents=refunded_cents,
            charge_id=charge_id if isinstance(charge_id, str) else intent.charge_id,
            updated_at=func.now(),
        )
    )
    return True


async def record_dispute(conn: AsyncConnection, dispute: Dispute, kind: str) -> DisputeChange:
    """Apply one dispute event to the dispute's row (created if new); the intent is locked."""
    found = (
        await conn.execute(select(stripe_disputes).where(stripe_disputes.c.id == dispute.id))
    ).first()
    before = DisputeState() if found is None else DisputeState(found.holds, found.closed)
    after = next_state(before, kind, dispute.status)
    status = found.status if found is not None and before.closed else dispute.status
    values = {
        "amount_cents": dispute.amount_cents,
        "currency": dispute.currency,
        "status": status,
        "holds": after.holds,
        "closed": after.closed,
    }
    if found is None:
        await conn.execute(
            stripe_disputes.insert().values(
                id=dispute.id, payment_intent_id=dispute.payment_intent_id, **values
            )
        )
    else:
        await conn.execute(
            update(stripe_disputes)
            .where(stripe_disputes.c.id == dispute.id)
            .values(**values, updated_at=func.now())
        )
    return DisputeChange(before, after, status)


async def intent_disputes(conn: AsyncConnection, intent_id: str) -> list[Row[Any]]:
    """The intent's disputes, oldest first."""
    query = (
        select(stripe_disputes)
        .where(stripe_disputes.c.payment_intent_id == intent_id)
        .order_by(stripe_disputes.c.created_at, stripe_disputes.c.id)
    )
    return list((await conn.execute(query)).all())

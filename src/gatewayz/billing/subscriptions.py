"""A user's subscription to a plan: periods, allowances, upgrades, downgrades, cancellation.

Every allowance is one ledger row (kind "plan_allowance") whose idempotency key names the
subscription and the start of its period, written in the same transaction as the
subscription's period, so no period is ever granted twice.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.billing import ledger
from gatewayz.billing.plans import Plan, get_plan
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.store.tables import subscriptions, users
from gatewayz.store.times import utc

ACTIVE = "active"
CANCELED = "canceled"
Change = Literal["started", "upgraded", "downgrade_scheduled", "resumed", "unchanged"]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    user_id: int
    plan: Plan
    status: str
    period_start: datetime
    period_end: datetime
    next_plan: Plan | None
    cancel_at_period_end: bool


def allowance_key(subscription_id: int, period_start: datetime) -> str:
    """The ledger idempotency key of one period's allowance."""
    return f"plan:{subscription_id}:{utc(period_start).isoformat()}"


async def grant_allowance(
    conn: AsyncConnection, subscription_id: int, user_id: int, plan: Plan, start: datetime
) -> None:
    """Add the plan's allowance for the period starting at `start`, once (none if zero)."""
    if plan.allowance_units == 0:
        return
    await ledger.apply_change(
        conn,
        user_id,
        plan.allowance_units,
        kind="plan_allowance",
        reason=f"plan '{plan.name}': period from {utc(start).date().isoformat()}",
        idempotency_key=allowance_key(subscription_id, start),
    )


async def get_subscription(
    conn: AsyncConnection, user_id: int, *, lock: bool = False
) -> Subscription | None:
    """The user's subscription (active or canceled), optionally locking its row."""
    query = select(subscriptions).where(subscriptions.c.user_id == user_id)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    next_plan = None if row.next_plan_id is None else await get_plan(conn, row.next_plan_id)
    return Subscription(
        id=row.id,
        user_id=row.user_id,
        plan=await get_plan(conn, row.plan_id),
        status=row.status,
        period_start=utc(row.period_start),
        period_end=utc(row.period_end),
        next_plan=next_plan,
        cancel_at_period_end=bool(row.cancel_at_period_end),
    )


async def assign_plan(
    conn: AsyncConnection, user_id: int, plan: Plan, now: datetime
) -> tuple[Change, Subscription]:
    """Subscribe the user to `plan`, or move them to it; returns what changed.

    Without an active subscription the plan starts now with its allowance. A plan with a
    larger allowance than the current one is an upgrade: it starts a new period now with
    the new allowance (credits granted before stay). Any other plan is a downgrade, taken at
    the end of the current period.
    """
    if not plan.active:
        raise InvalidRequest(f"plan: the plan '{plan.name}' is not active.", param="plan")
    if await conn.scalar(select(users.c.id).where(users.c.id == user_id)) is None:
        raise NotFound(f"No user with id {user_id}.")
    current = await get_subscription(conn, user_id, lock=True)
    if current is None or current.status != ACTIVE:
        return "started", await _start(conn, user_id, current, plan, now)
    if plan.id == current.plan.id:
        pending = current.next_plan is not None or current.cancel_at_period_end
        await _set(conn, current.id, next_plan_id=None, cancel_at_period_end=False)
        return ("resumed" if pending else "unchanged"), await _reread(conn, user_id)
    if plan.allowance_units > current.plan.allowance_units:
        start = max(now, current.period_start + timedelta(microseconds=1))
        await _set(conn, current.id, **_new_period(plan, start))
        await grant_allowance(conn, current.id, user_id, plan, start)
        return "upgraded", await _reread(conn, user_id)
    await _set(conn, current.id, next_plan_id=plan.id, cancel_at_period_end=False)
    return "downgrade_scheduled", await _reread(conn, user_id)


async def cancel(
    conn: AsyncConnection, user_id: int, *, immediately: bool, now: datetime
) -> Subscription:
    """Stop renewing at the end of the period, or end the subscription now.

    Credits already granted stay with the user either way.
    """
    current = await get_subscription(conn, user_id, lock=True)
    if current is None or current.status != ACTIVE:
        raise NotFound(f"User {user_id} has no active plan.")
    if immediately:
        await _set(conn, current.id, status=CANCELED, period_end=now, next_plan_id=None)
    else:
        await _set(conn, current.id, cancel_at_period_end=True, next_plan_id=None)
    return await _reread(conn, user_id)


def current_period(old_end: datetime, period_days: int, now: datetime) -> tuple[datetime, datetime]:
    """The period that contains `now`, counted in whole periods from `old_end` (a renewal
    that comes late skips the periods it missed rather than granting them all)."""
    length = timedelta(days=period_days)
    missed = max(0, (now - old_end) // length)
    start = old_end + missed * length
    return start, start + length


def _new_period(plan: Plan, start: datetime) -> dict[str, Any]:
    return {
        "plan_id": plan.id,
        "status": ACTIVE,
        "period_start": start,
        "period_end": start + timedelta(days=plan.period_days),
        "next_plan_id": None,
        "cancel_at_period_end": False,
    }


async def _start(
    conn: AsyncConnection,
    user_id: int,
    previous: Subscription | None,
    plan: Plan,
    now: datetime,
) -> Subscription:
    """A first period from now; a canceled subscription's row is reused (one per user)."""
    values = _new_period(plan, now)
    if previous is None:
        subscription_id = await conn.scalar(
            subscriptions.insert().values(user_id=user_id, **values).returning(subscriptions.c.id)
        )
    else:
        subscription_id = previous.id
        await _set(conn, subscription_id, **values)
    await grant_allowance(conn, subscription_id, user_id, plan, now)
    return await _reread(conn, user_id)


async def _set(conn: AsyncConnection, subscription_id: int, **values: Any) -> None:
    await conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(**values, updated_at=func.now())
    )


async def _reread(conn: AsyncConnection, user_id: int) -> Subscription:
    found = await get_subscription(conn, user_id)
    assert found is not None
    return found

"""One account in full: the user row, its plan, its trial and its keys (read-only)."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.errors import NotFound
from gatewayz.store.tables import api_keys, plans, subscriptions, trials, users


@dataclass(frozen=True, slots=True)
class PlanInfo:
    """The user's subscription and the plan it is to."""

    name: str
    status: str
    allowance_units: int
    period_days: int
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool


@dataclass(frozen=True, slots=True)
class TrialInfo:
    """The user's free trial: credits granted, when it runs out, whether it ended."""

    credits_units: int
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        expires = self.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return self.ended_at is None and expires > datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """What may be shown about one of the user's keys (never the key or its hash)."""

    id: int
    name: str
    display_prefix: str
    environment: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    email: str
    role: str
    balance_units: int
    reserved_units: int
    created_at: datetime
    referral_code: str | None
    referred_by: int | None
    active_keys: int
    plan: PlanInfo | None
    trial: TrialInfo | None


async def account(conn: AsyncConnection, user_id: int) -> Account:
    """The account of `user_id` (404 if there is none)."""
    row = (
        await conn.execute(
            select(
                users.c.id,
                users.c.email,
                users.c.role,
                users.c.balance_units,
                users.c.reserved_units,
                users.c.created_at,
                users.c.referral_code,
                users.c.referred_by,
            ).where(users.c.id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No user with id {user_id}.")
    active = await conn.scalar(
        select(func.count()).where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
    )
    return Account(
        *row, int(active or 0), await plan_of(conn, user_id), await trial_of(conn, user_id)
    )


async def plan_of(conn: AsyncConnection, user_id: int) -> PlanInfo | None:
    query = (
        select(
            plans.c.name,
            subscriptions.c.status,
            plans.c.allowance_units,
            plans.c.period_days,
            subscriptions.c.period_start,
            subscriptions.c.period_end,
            subscriptions.c.cancel_at_period_end,
        )
        .join(plans, plans.c.id == subscriptions.c.plan_id)
        .where(subscriptions.c.user_id == user_id)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else PlanInfo(*row)


async def trial_of(conn: AsyncConnection, user_id: int) -> TrialInfo | None:
    query = select(
        trials.c.credits_units, trials.c.started_at, trials.c.expires_at, trials.c.ended_at
    ).where(trials.c.user_id == user_id)
    row = (await conn.execute(query)).first()
    return None if row is None else TrialInfo(*row)


async def keys_of(conn: AsyncConnection, user_id: int) -> list[KeyRow]:
    """All the user's keys, revoked ones included, oldest first."""
    query = (
        select(
            api_keys.c.id,
            api_keys.c.name,
            api_keys.c.display_prefix,
            api_keys.c.environment,
            api_keys.c.created_at,
            api_keys.c.expires_at,
            api_keys.c.revoked_at,
        )
        .where(api_keys.c.user_id == user_id)
        .order_by(api_keys.c.id)
    )
    return [KeyRow(*row) for row in (await conn.execute(query)).all()]

"""Helpers for plan and trial tests: plans, time shifts written into the database, ledger sums."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import plans as plan_store
from gatewayz.billing.money import credits_to_units
from gatewayz.billing.plans import NewPlan, Plan
from gatewayz.store.tables import ledger, subscriptions, trials, users
from gatewayz.store.times import utc


def units(credits: str) -> int:
    return credits_to_units(Decimal(credits))


async def make_plan(engine: AsyncEngine, name: str, allowance: str, **fields: object) -> Plan:
    async with engine.begin() as conn:
        return await plan_store.create_plan(
            conn, NewPlan.model_validate({"name": name, "allowance": allowance, **fields})
        )


async def move_period_back(engine: AsyncEngine, user_id: int, by: timedelta) -> None:
    """Make the user's subscription period `by` earlier, as if that much time had passed."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(subscriptions.c.period_start, subscriptions.c.period_end).where(
                    subscriptions.c.user_id == user_id
                )
            )
        ).one()
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.user_id == user_id)
            .values(period_start=utc(row[0]) - by, period_end=utc(row[1]) - by)
        )


async def move_trial_back(engine: AsyncEngine, user_id: int, by: timedelta) -> None:
    """Make the user's trial start and expire `by` earlier."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(trials.c.started_at, trials.c.expires_at).where(trials.c.user_id == user_id)
            )
        ).one()
        await conn.execute(
            update(trials)
            .where(trials.c.user_id == user_id)
            .values(started_at=utc(row[0]) - by, expires_at=utc(row[1]) - by)
        )


async def ledger_rows(engine: AsyncEngine, user_id: int, kind: str) -> list[tuple[int, str]]:
    """(amount, idempotency key) of the user's ledger rows of `kind`, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(ledger.c.amount_units, ledger.c.idempotency_key)
            .where(ledger.c.user_id == user_id, ledger.c.kind == kind)
            .order_by(ledger.c.id)
        )
        return [(int(amount), key) for amount, key in rows]


async def balance_and_ledger_sum(engine: AsyncEngine, user_id: int) -> tuple[int, int]:
    async with engine.connect() as conn:
        balance = await conn.scalar(select(users.c.balance_units).where(users.c.id == user_id))
        total = await conn.scalar(
            select(func.coalesce(func.sum(ledger.c.amount_units), 0)).where(
                ledger.c.user_id == user_id
            )
        )
    return int(balance), int(total)

"""The periodic billing task: renew plans, settle expired trials, warn of trials ending.

Any number of gateway processes may run it at once. A renewal moves the subscription's
period forward with a conditional UPDATE (`WHERE id = ? AND period_end = <old end>`) in
the same transaction as the allowance's ledger row, whose idempotency key names the new
period: whichever process renews first wins, the others change nothing.
"""

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import trials
from gatewayz.billing.entitlements import Entitlements
from gatewayz.billing.plan_settings import TrialSettings
from gatewayz.billing.subscriptions import (
    ACTIVE,
    CANCELED,
    current_period,
    get_subscription,
    grant_allowance,
)
from gatewayz.notify.notices import Notifier
from gatewayz.store.tables import subscriptions

log = logging.getLogger(__name__)


async def renew_due(engine: AsyncEngine, now: datetime) -> tuple[int, int]:
    """Renew (or end, when canceled at period end) every subscription whose period is over;
    returns (renewed, canceled)."""
    async with engine.connect() as conn:
        due = (
            (
                await conn.execute(
                    select(subscriptions.c.user_id).where(
                        subscriptions.c.status == ACTIVE, subscriptions.c.period_end <= now
                    )
                )
            )
            .scalars()
            .all()
        )
    renewed = canceled = 0
    for user_id in due:
        outcome = await renew_one(engine, user_id, now)
        renewed += outcome == "renewed"
        canceled += outcome == "canceled"
    return renewed, canceled


async def renew_one(engine: AsyncEngine, user_id: int, now: datetime) -> str | None:
    """Renew the user's subscription if its period is over: "renewed", "canceled", or None
    when another run got there first (or nothing was due)."""
    async with engine.begin() as conn:
        current = await get_subscription(conn, user_id, lock=True)
        if current is None or current.status != ACTIVE or current.period_end > now:
            return None
        moved = (
            update(subscriptions)
            .where(
                subscriptions.c.id == current.id,
                subscriptions.c.status == ACTIVE,
                subscriptions.c.period_end == current.period_end,
            )
            .values(updated_at=func.now())
        )
        if current.cancel_at_period_end:
            result = await conn.execute(moved.values(status=CANCELED, next_plan_id=None))
            return "canceled" if result.rowcount == 1 else None
        plan = current.next_plan or current.plan
        start, end = current_period(current.period_end, plan.period_days, now)
        result = await conn.execute(
            moved.values(plan_id=plan.id, next_plan_id=None, period_start=start, period_end=end)
        )
        if result.rowcount != 1:
            return None
        await grant_allowance(conn, current.id, user_id, plan, start)
    return "renewed"


class BillingTasks:
    """Runs renewals, trial expiry and trial-ending notices every `interval` seconds."""

    def __init__(
        self,
        engine: AsyncEngine,
        notifier: Notifier,
        entitlements: Entitlements,
        trial: TrialSettings,
        interval: float,
    ) -> None:
        self._engine = engine
        self._notifier = notifier
        self._entitlements = entitlements
        self._trial = trial
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="gatewayz-billing-tasks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_once(self, now: datetime | None = None) -> None:
        """One pass over everything that is due at `now` (default: the current time)."""
        now = now or datetime.now(UTC)
        renewed, canceled = await renew_due(self._engine, now)
        await self._entitlements.charges_written()
        expired = await trials.expire_due(self._engine, now)
        for user_id, email, expires_at in await trials.ending_soon(
            self._engine, now, self._trial.ending_notice_hours
        ):
            await self._notifier.notify(
                "trial_ending",
                recipient=email,
                user_id=user_id,
                dedupe_key=trials.ending_key(user_id),
                expires_at=expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            )
        if renewed or canceled or expired:
            await self._entitlements.reload()

    async def _run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("billing tasks: the periodic run failed")
            await asyncio.sleep(self._interval)

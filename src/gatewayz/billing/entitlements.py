"""What a user may call now: their plan's (or running trial's) models and rate limits.

Kept in memory and re-read in the background every few seconds (and at once in this
process after a change through the API), so a call pays a dictionary lookup. A trial whose
time is up is settled by the first call that meets it, before anything is held or counted,
so an expired trial's credits and limits never serve a call.
"""

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import trials
from gatewayz.billing.plan_settings import TrialSettings
from gatewayz.billing.plans import models_matcher, plan_from_row
from gatewayz.billing.subscriptions import ACTIVE
from gatewayz.errors import PermissionDenied
from gatewayz.limits.settings import LimitValues
from gatewayz.providers.catalog import Route
from gatewayz.store.tables import plans, subscriptions
from gatewayz.store.tables import trials as trial_rows
from gatewayz.store.times import utc

log = logging.getLogger(__name__)
_WRITE_WAIT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Entitlement:
    """The plan or trial that governs one user's calls."""

    label: str
    limits: LimitValues | None
    models: re.Pattern[str] | None
    trial_expires_at: datetime | None = None

    def allows(self, model_id: str) -> bool:
        return self.models is None or self.models.fullmatch(model_id) is not None


async def load(engine: AsyncEngine, trial: TrialSettings) -> dict[int, Entitlement]:
    """The entitlement of every user on an active plan or an unsettled trial; a plan
    governs a user who has both (their trial still expires)."""
    plan_query = (
        select(subscriptions.c.user_id, plans)
        .join(plans, plans.c.id == subscriptions.c.plan_id)
        .where(subscriptions.c.status == ACTIVE)
    )
    trial_query = select(trial_rows.c.user_id, trial_rows.c.expires_at).where(
        trial_rows.c.ended_at.is_(None)
    )
    async with engine.connect() as conn:
        plan_rows = (await conn.execute(plan_query)).all()
        running = {user_id: utc(expires) for user_id, expires in await conn.execute(trial_query)}
    trial_limits = _limits(trial.limits)
    trial_models = models_matcher(trial.models)
    found = {
        user_id: Entitlement("your free trial", trial_limits, trial_models, expires_at)
        for user_id, expires_at in running.items()
    }
    for row in plan_rows:
        plan = plan_from_row(row)
        found[row.user_id] = Entitlement(
            f"your plan '{plan.name}'",
            _limits(plan.limits),
            models_matcher(plan.models),
            running.get(row.user_id),
        )
    return found


class Entitlements:
    """The in-memory entitlements of this process, refreshed every `refresh_seconds`."""

    def __init__(
        self,
        engine: AsyncEngine,
        trial: TrialSettings,
        refresh_seconds: float,
        charges_written: Callable[[], Awaitable[None]],
    ) -> None:
        self._engine = engine
        self._charges_written = charges_written
        self._trial = trial
        self._refresh_seconds = refresh_seconds
        self._by_user: dict[int, Entitlement] = {}
        self._listeners: list[Callable[[], None]] = []
        self._trial_listeners: list[Callable[[list[int]], None]] = []
        self._settling: dict[int, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a reload changes anyone's entitlement."""
        self._listeners.append(listener)

    def on_trial_ended(self, listener: Callable[[list[int]], None]) -> None:
        """Call `listener(user_ids)` when trials known to this process have been settled (so
        credits the process set aside for those users' calls can be given back)."""
        self._trial_listeners.append(listener)

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._refresh_forever(), name="gatewayz-entitlements")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, *self._settling.values(), return_exceptions=True)
            self._task = None

    async def reload(self) -> None:
        """Read every entitlement again (a failed read keeps the ones known)."""
        try:
            found = await load(self._engine, self._trial)
        except Exception as exc:
            log.warning("entitlements: cannot read plans and trials (%s)", type(exc).__name__)
            return
        if found == self._by_user:
            return
        ended = [
            user_id
            for user_id, known in self._by_user.items()
            if known.trial_expires_at is not None
            and (user_id not in found or found[user_id].trial_expires_at is None)
        ]
        self._by_user = found
        for listener in self._listeners:
            listener()
        if ended:
            for trial_listener in self._trial_listeners:
                trial_listener(ended)

    def limits(self, user_id: int) -> LimitValues | None:
        """The rate limits the user's plan or running trial sets, if any."""
        found = self._by_user.get(user_id)
        return None if found is None else found.limits

    async def allowed_routes(self, user_id: int, model: str, routes: list[Route]) -> list[Route]:
        """The routes whose `provider/model` id the user's plan or trial allows; 403 naming
        the plan and `model` when none is."""
        found = self._by_user.get(user_id)
        expires_at = found.trial_expires_at if found is not None else None
        if expires_at is not None and expires_at <= datetime.now(UTC):
            await self._settle_trial(user_id)
            found = self._by_user.get(user_id)
        if found is None or found.models is None:
            return routes
        allowed = [route for route in routes if found.allows(route.public_id)]
        if not allowed:
            raise PermissionDenied(
                f"The model '{model}' is not included in {found.label}.",
                param="model",
                code="model_not_in_plan",
            )
        return allowed

    async def _settle_trial(self, user_id: int) -> None:
        """Settle the user's expired trial (one settlement per user at a time) and reload."""
        pending = self._settling.get(user_id)
        if pending is None:
            pending = self._settling[user_id] = asyncio.ensure_future(self._settle(user_id))
            pending.add_done_callback(lambda _: self._settling.pop(user_id, None))
        await asyncio.shield(pending)

    async def charges_written(self) -> None:
        """Wait until the charges this process has queued are in the ledger, so a trial
        settled next removes only credits no call has spent; at most `_WRITE_WAIT_SECONDS`
        (while the database cannot take them, they stay queued, and the settlement that follows
        records what they charge past the balance as a shortfall)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._charges_written()), _WRITE_WAIT_SECONDS)

    async def _settle(self, user_id: int) -> None:
        await self.charges_written()
        await trials.expire_trial(self._engine, user_id, datetime.now(UTC))
        await self.reload()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            await self.reload()


def _limits(values: LimitValues) -> LimitValues | None:
    """None when no limit is set (the user's defaults then apply)."""
    return values if values != LimitValues() else None

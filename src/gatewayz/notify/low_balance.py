"""The low balance notice: a periodic check, off the request path, that tells each user once
whenever their balance falls below the threshold."""

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing.money import format_credits
from gatewayz.notify.notices import Notifier
from gatewayz.store.tables import ledger, notifications, users

log = logging.getLogger(__name__)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class LowBalance:
    """A user below the threshold; `crossing` is the id of their last ledger row that left the
    balance at or above it, so each fall below the threshold has its own dedupe key."""

    user_id: int
    email: str
    balance_units: int
    crossing: int

    @property
    def dedupe_key(self) -> str:
        return f"low_balance:{self.user_id}:{self.crossing}"


class LowBalanceWatcher:
    """Every `interval` seconds, sends `low_balance` to each user whose settled balance fell
    below `threshold_units` since it was last at or above it. Users who never reached the
    threshold are not told. Every gateway process may run one: the notices' dedupe keys make
    each send happen once."""

    def __init__(
        self, engine: AsyncEngine, notifier: Notifier, threshold_units: int, interval: float
    ) -> None:
        self._engine = engine
        self._notifier = notifier
        self._threshold = threshold_units
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval > 0 and self._threshold > 0:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def check(self) -> int:
        """Send the notices now due; how many were sent."""
        due = await self._unnotified(await self._below_threshold())
        sent = 0
        for user in due:
            sent += await self._notifier.notify(
                "low_balance",
                recipient=user.email,
                user_id=user.user_id,
                dedupe_key=user.dedupe_key,
                balance=format_credits(user.balance_units),
                threshold=format_credits(self._threshold),
            )
        return sent

    async def _below_threshold(self) -> list[LowBalance]:
        crossing = (
            select(func.max(ledger.c.id))
            .where(ledger.c.user_id == users.c.id, ledger.c.balance_after_units >= self._threshold)
            .scalar_subquery()
        )
        query = select(users.c.id, users.c.email, users.c.balance_units, crossing).where(
            users.c.balance_units < self._threshold
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [LowBalance(*row) for row in rows if row[3] is not None]

    async def _unnotified(self, found: list[LowBalance]) -> list[LowBalance]:
        """The users among `found` not yet told about this fall below the threshold."""
        sent: set[str] = set()
        async with self._engine.connect() as conn:
            for start in range(0, len(found), _CHUNK):
                keys = [user.dedupe_key for user in found[start : start + _CHUNK]]
                result = await conn.execute(
                    select(notifications.c.dedupe_key).where(notifications.c.dedupe_key.in_(keys))
                )
                sent.update(result.scalars())
        return [user for user in found if user.dedupe_key not in sent]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception as exc:
                log.warning("the low balance check failed: %s", type(exc).__name__)

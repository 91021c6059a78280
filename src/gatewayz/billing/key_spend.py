"""Per-key spending limits: what a key has spent plus what its calls in flight may still
spend never exceeds its limit, however many processes serve it.

A call on a key with a limit holds its worst case on the key (`api_keys.reserved_units`)
with one conditional UPDATE before it is sent; its settlement adds the real cost to
`api_keys.spent_units` and releases the hold in the ledger's transaction (`record`). Keys
without a limit are never held; their spend is still counted at settlement.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Update, bindparam, case, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing import hold_owners
from gatewayz.store.tables import api_keys

log = logging.getLogger(__name__)

_HOLD = (
    update(api_keys)
    .where(
        api_keys.c.id == bindparam("key_id"),
        or_(
            api_keys.c.spend_limit_units.is_(None),
            api_keys.c.spent_units + api_keys.c.reserved_units + bindparam("units")
            <= api_keys.c.spend_limit_units,
        ),
    )
    .values(reserved_units=api_keys.c.reserved_units + bindparam("units"))
)
_SETTLE = (
    update(api_keys)
    .where(api_keys.c.id == bindparam("key_id"))
    .values(
        spent_units=api_keys.c.spent_units + bindparam("spent"),
        reserved_units=case(
            (
                api_keys.c.reserved_units > bindparam("held"),
                api_keys.c.reserved_units - bindparam("held"),
            ),
            else_=0,
        ),
    )
)


class KeySpending:
    """Holds calls' worst cases on keys with a spending limit."""

    def __init__(self, engine: AsyncEngine, owner: str | None = None) -> None:
        self._engine = engine
        self._owner = owner
        self._late: set[asyncio.Future[Any]] = set()

    async def hold(self, key_id: int, units: int) -> bool:
        """Hold `units` on the key if its limit leaves room for them (always, for a key whose
        limit was removed meanwhile). If the caller is cancelled while the UPDATE runs, a hold
        that lands anyway is given back."""
        attempt = asyncio.ensure_future(self._hold(key_id, units))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            self._track(attempt)
            attempt.add_done_callback(lambda done: self._release_late(key_id, units, done))
            raise

    def _track(self, work: "asyncio.Future[Any]") -> None:
        self._late.add(work)
        work.add_done_callback(self._late.discard)

    def _release_late(self, key_id: int, units: int, done: "asyncio.Future[bool]") -> None:
        if done.cancelled() or done.exception() is not None or not done.result():
            return
        self._track(asyncio.get_running_loop().create_task(self._release(key_id, units)))

    async def _hold(self, key_id: int, units: int) -> bool:
        """One conditional UPDATE; with an owner, also recorded as the owner's hold, in the
        same transaction (see hold_owners)."""
        if self._owner is None:
            return await self._update(_HOLD, key_id=key_id, units=units)
        async with self._engine.begin() as conn:
            result = await conn.execute(_HOLD, {"key_id": key_id, "units": units})
            if result.rowcount != 1:
                return False
            await hold_owners.record_taken(conn, self._owner, hold_owners.KEY, key_id, units)
        return True

    async def _release(self, key_id: int, units: int) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(_SETTLE, {"key_id": key_id, "spent": 0, "held": units})
                if self._owner is not None:
                    given_back = [(self._owner, hold_owners.KEY, key_id, units)]
                    await hold_owners.record_given_back(conn, given_back)
        except Exception as exc:
            log.warning("could not release a hold on API key %d: %s", key_id, type(exc).__name__)

    async def _update(self, statement: Update, **values: int) -> bool:
        """Run one statement in autocommit mode: atomic on its own, one round trip."""
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            result = await conn.execute(statement, values)
        return result.rowcount == 1

    async def stop(self) -> None:
        """Wait for the holds of cancelled calls and their releases."""
        while self._late:
            await asyncio.gather(*self._late, return_exceptions=True)


async def record(conn: AsyncConnection, settled: Iterable[tuple[int, int, int]]) -> None:
    """Add spend and release holds, given (key id, spent units, held units) per call, in the
    caller's transaction; keys are updated in id order so concurrent writers cannot
    deadlock."""
    spent: dict[int, int] = defaultdict(int)
    held: dict[int, int] = defaultdict(int)
    for key_id, cost, hold in settled:
        if cost or hold:
            spent[key_id] += cost
            held[key_id] += hold
    if spent:
        await conn.execute(
            _SETTLE,
            [{"key_id": k, "spent": spent[k], "held": held[k]} for k in sorted(spent)],
        )

"""Per-key spending limits: what a key has spent plus what its calls in flight may still
spend never exceeds its limit, however many processes serve it.

A call on a key with a limit holds its worst case on the key (`api_keys.reserved_units`)
with one conditional UPDATE before it is sent; its settlement adds the real cost to
`api_keys.spent_units` and releases the hold in the ledger's transaction (`record`). Keys
without a limit are never held; their spend is still counted at settlement. A rotated-out
key is never held: its calls are its replacement's (accounts.auth).
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Update, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing import hold_owners
from gatewayz.store.tables import api_keys

log = logging.getLogger(__name__)

_HOLD = (
    update(api_keys)
    .where(
        api_keys.c.id == bindparam("key_id"),
        # A key rotated out spends on its replacement: a process that still has it cached
        # as it was is refused here rather than spend a second budget.
        api_keys.c.replaced_by.is_(None),
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
        spent_units=case(
            (
                api_keys.c.spent_units + bindparam("spent") > 0,
                api_keys.c.spent_units + bindparam("spent"),
            ),
            else_=0,
        ),
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
                await record(conn, [(key_id, 0, units)])
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
    deadlock. A call on a key that has been rotated since is counted on its replacements
    at its cost (they counted its hold when the key was rotated)."""
    spent: dict[int, int] = defaultdict(int)
    held: dict[int, int] = defaultdict(int)
    for key_id, cost, hold in settled:
        if cost or hold:
            spent[key_id] += cost
            held[key_id] += hold
    if not spent:
        return
    for key_id, delta in (await _on_replacements(conn, spent, held)).items():
        spent[key_id] += delta
    await conn.execute(
        _SETTLE,
        [{"key_id": k, "spent": spent[k], "held": held.get(k, 0)} for k in sorted(spent)],
    )


async def _on_replacements(
    conn: AsyncConnection, spent: dict[int, int], held: dict[int, int]
) -> dict[int, int]:
    """What to add to the spend of the keys that replaced the settled ones: each settled
    call's cost minus the hold its key's rotation already counted there."""
    added: dict[int, int] = defaultdict(int)
    frontier = {k: spent[k] - held[k] for k in spent if spent[k] != held[k]}
    while frontier:
        query = select(api_keys.c.id, api_keys.c.replaced_by).where(
            api_keys.c.id.in_(sorted(frontier)), api_keys.c.replaced_by.is_not(None)
        )
        following: dict[int, int] = defaultdict(int)
        for key_id, replacement in (await conn.execute(query)).all():
            if replacement > key_id:  # a replacement is always a newer row: no loops
                following[replacement] += frontier[key_id]
        for key_id, units in following.items():
            added[key_id] += units
        frontier = {key_id: units for key_id, units in following.items() if units}
    return {key_id: units for key_id, units in added.items() if units}

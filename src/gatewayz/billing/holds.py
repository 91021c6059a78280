"""Credit holds served from per-process leases, so most calls hold credits without a
database round trip.

A process leases part of a user's available balance (adding it to `users.reserved_units`)
and hands out holds from the lease in memory. When a call ends, the part of its hold it
spent leaves the lease together with the charge (the settlement lowers `reserved_units` by
the same amount); the rest returns to the lease for the next call. A lease that stays idle
is given back, and every lease is given back at shutdown. The database therefore always
holds at least what the calls in flight in every process may spend, so no process can
spend credits another one has promised.
"""

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.store.batch import BatchWriter


@dataclass(slots=True)
class _Lease:
    leased: int = 0
    used: int = 0
    last_used: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    refill: asyncio.Task[None] | None = None
    window_start: float = 0.0
    window_units: int = 0
    rate: float = 0.0

    def note(self, units: int, now: float) -> None:
        """Track how many units per second this process holds for the user."""
        if now - self.window_start >= 1.0:
            elapsed = now - self.window_start
            self.rate = self.window_units / elapsed if elapsed < 2.0 else 0.0
            self.window_start, self.window_units = now, 0
        self.window_units += units


class CreditHolds:
    def __init__(
        self,
        engine: AsyncEngine,
        writer: BatchWriter,
        *,
        lease_factor: int = 64,
        horizon_seconds: float = 2.0,
        idle_seconds: float = 1.0,
        owner: str | None = None,
    ) -> None:
        self.owner = owner
        self._horizon = horizon_seconds
        self._engine = engine
        self._writer = writer
        self._factor = lease_factor
        self._idle = idle_seconds
        self._leases: dict[int, _Lease] = {}
        self._task: asyncio.Task[None] | None = None

    async def hold(self, user_id: int, units: int) -> bool:
        """Hold `units` for one call, growing the lease when it is short; False if the
        user's available balance cannot cover them."""
        lease = self._leases.get(user_id)
        if lease is None:
            lease = self._leases[user_id] = _Lease()
        if lease.leased - lease.used < units and not await self._grow(user_id, lease, units):
            return False
        lease.used += units
        now = time.monotonic()
        lease.last_used = now
        lease.note(units, now)
        if (
            lease.leased - lease.used < self._target(lease, units) // 4
            and lease.refill is None
            and not lease.lock.locked()
        ):
            lease.refill = asyncio.ensure_future(self._refill(user_id, lease, units))
        return True

    def _target(self, lease: _Lease, units: int) -> int:
        """How much a lease should hold: `lease_factor` calls, or two seconds of use."""
        return max(units * self._factor, int(lease.rate * self._horizon))

    async def _grow(self, user_id: int, lease: _Lease, units: int) -> bool:
        """Grow the lease until it has `units` free; False if the balance cannot."""
        async with lease.lock:
            missing = units - (lease.leased - lease.used)
            if missing <= 0:
                return True
            grown = await ledger.hold_up_to(
                self._engine,
                user_id,
                missing,
                max(missing, self._target(lease, units)),
                self.owner,
            )
            lease.leased += grown
            return grown > 0

    async def _refill(self, user_id: int, lease: _Lease, units: int) -> None:
        """Top a running-low lease up in the background, so calls rarely wait for it."""
        try:
            async with lease.lock:
                grown = await ledger.hold_up_to(
                    self._engine, user_id, 0, self._target(lease, units), self.owner
                )
                lease.leased += grown
        finally:
            lease.refill = None

    def release(self, user_id: int, held: int, spent: int) -> int:
        """A call holding `held` ended having spent `spent`; returns the units of hold that
        leave the lease with its settlement."""
        lease = self._leases[user_id]
        leaving = min(held, spent)
        lease.used -= held
        lease.leased -= leaving
        return leaving

    def release_idle(self, now: float | None = None) -> None:
        """Give back the unused part of leases not used for `idle_seconds`."""
        now = time.monotonic() if now is None else now
        for user_id, lease in list(self._leases.items()):
            if now - lease.last_used < self._idle or lease.lock.locked():
                continue
            self._give_back(user_id, lease)

    def give_back(self, user_ids: list[int]) -> None:
        """Give back the unused part of these users' leases now, busy or not (their credits
        were taken away: the next call leases again from what is left)."""
        for user_id in user_ids:
            lease = self._leases.get(user_id)
            if lease is not None and not lease.lock.locked():
                self._give_back(user_id, lease)

    def _give_back(self, user_id: int, lease: _Lease) -> None:
        free = lease.leased - lease.used
        if free > 0:
            lease.leased -= free
            self._writer.add("settlements", ledger.HoldRelease(user_id, free, self.owner))
        if lease.leased == 0 and lease.used == 0:
            del self._leases[user_id]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gatewayz-credit-holds")

    async def stop(self) -> None:
        """Give back every unused lease (the writer writes it at its own stop)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.release_idle(now=float("inf"))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._idle / 2)
            self.release_idle()

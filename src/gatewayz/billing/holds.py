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


class CreditHolds:
    def __init__(
        self,
        engine: AsyncEngine,
        writer: BatchWriter,
        *,
        lease_factor: int = 64,
        idle_seconds: float = 1.0,
    ) -> None:
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
        if lease.leased - lease.used < units:
            async with lease.lock:
                missing = units - (lease.leased - lease.used)
                if missing > 0:
                    grown = await ledger.hold_up_to(
                        self._engine, user_id, missing, max(missing, units * self._factor)
                    )
                    if not grown:
                        return False
                    lease.leased += grown
        lease.used += units
        lease.last_used = time.monotonic()
        return True

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
            free = lease.leased - lease.used
            if free > 0:
                lease.leased -= free
                self._writer.add("settlements", ledger.HoldRelease(user_id, free))
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

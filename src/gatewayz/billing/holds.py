"""Credit holds served from per-process leases, so most calls hold credits without a database
round trip.

A process leases part of a user's unheld balance (adding it to `users.reserved_units`) and
hands out holds from the lease in memory. When a call ends, the part of its hold it spent
leaves the lease together with the charge (the settlement lowers `reserved_units` by the
same amount); the rest returns to the lease for the next call. A lease that stays idle is
given back, and every lease is given back at shutdown. The database therefore always holds
at least what the calls in flight in every process may spend, so no process can spend
credits another one has promised.

A lease holds about `lease_factor` calls or two seconds of the user's traffic, but its free
part never more than `share` of the user's unheld balance (or one call's hold, if that is
more): that is the most it can serve after the balance went down, until the process hears
of it. Every decrease (billing/revocations.py) calls `give_back`: the free part goes back at
once, the unspent part of the holds of calls then running does not return to the lease when
they end, and a growth in flight gives back what it brings when it lands.

Calls short of credit take turns (a queue per lease); a lease grows in a task of its own that
they wait for (shielded), so a call cancelled meanwhile (a client disconnect) cannot leave
credit reserved in the database but missing from the lease: the growth lands in the lease
all the same.

A user's call refused for want of credit is remembered for `refusal_seconds`: calls holding
as much or more are refused from memory meanwhile, so a client retrying without credit costs
no database round trips (see relay.shortfalls for the debt check that words the refusal).
Credits added in that moment serve from its end on.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.hold_owners import HoldSettings
from gatewayz.store.batch import BatchWriter

log = logging.getLogger(__name__)

_ATTEMPTS = 4
_FLUSH_SECONDS = 1.0
_DEFAULT_SHARE = HoldSettings().lease_share


@dataclass(slots=True)
class _Lease:
    leased: int = 0
    used: int = 0
    last_used: float = 0.0
    queue: asyncio.Lock = field(default_factory=asyncio.Lock)  # calls short of credit
    waiting: int = 0  # calls in that queue: the lease stays while there are any
    growing: "asyncio.Task[int] | None" = None
    revision: int = 0  # how many times the lease was revoked
    stale: int = 0  # held by calls admitted before the last revocation: not to be reused
    ceiling: int | None = None  # the free part's cap, when the share bound the last growth
    window_start: float = 0.0
    window_units: int = 0
    rate: float = 0.0
    refused_until: float = 0.0  # holds of `refused_units` or more are refused until then
    refused_units: int = 0

    @property
    def free(self) -> int:
        return self.leased - self.used

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
        share: float = _DEFAULT_SHARE,
        owner: str | None = None,
        refusal_seconds: float = 1.0,
    ) -> None:
        self.owner = owner
        self._refusal_seconds = refusal_seconds
        self._horizon = horizon_seconds
        self._engine = engine
        self._writer = writer
        self._factor = lease_factor
        self._idle = idle_seconds
        self._share = share
        self._leases: dict[int, _Lease] = {}
        self._unflushed: set[int] = set()  # users with given-back units the writer still has
        self._task: asyncio.Task[None] | None = None

    async def hold(self, user_id: int, units: int) -> bool:
        """Hold `units` for one call, growing the lease when it is short; False if the
        user's unheld balance cannot cover them."""
        lease = self._leases.get(user_id)
        if lease is None:
            lease = self._leases[user_id] = _Lease()
        if lease.free < units:
            if self._still_refused(lease, units):
                return False
            lease.waiting += 1
            try:
                async with lease.queue:  # (the call before may have been refused meanwhile)
                    enough = not self._still_refused(lease, units) and await self._grown(
                        user_id, lease, units
                    )
            finally:
                lease.waiting -= 1
            if not enough:
                self._refused(lease, units)
                return False
        self._use(user_id, lease, units)
        return True

    def _still_refused(self, lease: _Lease, units: int) -> bool:
        return units >= lease.refused_units and time.monotonic() < lease.refused_until

    def _refused(self, lease: _Lease, units: int) -> None:
        """Remember that the user's credit could not cover `units` (see the module)."""
        now = time.monotonic()
        if now >= lease.refused_until:
            lease.refused_units = units
        lease.refused_units = min(lease.refused_units, units)
        lease.refused_until = now + self._refusal_seconds

    async def _grown(self, user_id: int, lease: _Lease, units: int) -> bool:
        """Grow the lease until it has `units` free, after any top-up under way; False if
        the unheld balance cannot."""
        for _ in range(_ATTEMPTS):
            if lease.free >= units:
                return True
            growth = lease.growing
            if growth is not None:  # it may bring enough (if it fails, we grow it ourselves)
                with contextlib.suppress(Exception):
                    await asyncio.shield(growth)
                continue
            missing = units - lease.free
            wanted = max(missing, self._target(lease, units) - lease.free)
            if not await asyncio.shield(self._grow(user_id, lease, missing, wanted)):
                break
        return lease.free >= units

    def _use(self, user_id: int, lease: _Lease, units: int) -> None:
        lease.used += units
        now = time.monotonic()
        lease.last_used = now
        lease.note(units, now)
        target = self._target(lease, units)
        if lease.ceiling is not None:
            target = min(target, lease.ceiling)
        if lease.growing is None and target >= units and lease.free < target // 4:
            self._grow(user_id, lease, 0, target - lease.free)

    def _target(self, lease: _Lease, units: int) -> int:
        """How much a lease should hold: `lease_factor` calls, or two seconds of use."""
        return max(units * self._factor, int(lease.rate * self._horizon))

    def _grow(self, user_id: int, lease: _Lease, needed: int, wanted: int) -> "asyncio.Task[int]":
        """Start growing the lease by `wanted` units (at least `needed`, else none)."""
        growth = asyncio.ensure_future(self._growth(user_id, lease, needed, wanted, lease.revision))
        lease.growing = growth
        growth.add_done_callback(_log_failure)
        return growth

    async def _growth(
        self, user_id: int, lease: _Lease, needed: int, wanted: int, revision: int
    ) -> int:
        """Reserve more for the lease and add it there; the units added (0 if not even
        `needed` were free). If the lease was revoked since the growth began, it may have
        seen the balance before the decrease: the free part is given back at once."""
        try:
            if user_id in self._unflushed:  # so the reservation sees the units given back
                await self._flushed(user_id)
            grown = await self._reserve(user_id, lease, needed, wanted)
            lease.leased += grown
            if lease.revision != revision:
                self._give_back(user_id, lease)
            return grown
        finally:
            lease.growing = None

    async def _flushed(self, user_id: int) -> None:
        """Write the units this lease gave back before reserving again, waiting at most
        `_FLUSH_SECONDS`: while the database is unreachable they stay queued, and the
        reservation then sees them still held (it may refuse more, never allow more)."""
        self._unflushed.discard(user_id)
        try:
            await asyncio.wait_for(asyncio.shield(self._writer.flush()), _FLUSH_SECONDS)
        except TimeoutError:
            self._unflushed.add(user_id)

    async def _reserve(self, user_id: int, lease: _Lease, needed: int, wanted: int) -> int:
        """Reserve `wanted` units, or fewer (at least `needed`) when the unheld balance is
        short or the free part would pass `share` of it; the units reserved."""
        free = lease.free
        if lease.ceiling is None and await self._reserve_within_share(
            user_id, free, needed, wanted
        ):
            return wanted
        for _ in range(3):
            unheld = await ledger.unheld_units(self._engine, user_id)
            if unheld is None or unheld < max(needed, 1):
                return 0
            ceiling = int(self._share * (unheld + free))
            units = max(needed, min(wanted, ceiling - free, unheld))
            lease.ceiling = ceiling if units < wanted else None
            if units <= 0:
                return 0
            if await self._reserve_within_share(user_id, free, needed, units):
                return units
        return 0

    async def _reserve_within_share(self, user_id: int, free: int, needed: int, units: int) -> bool:
        """Reserve `units` if the unheld balance covers them, and, past what the call needs,
        only while the lease's free part stays within its share of that balance."""
        least = units
        if units > needed:
            least = max(units, math.ceil((free + units) / self._share) - free)
        return await ledger.reserve(self._engine, user_id, units, self.owner, unheld_at_least=least)

    def release(self, user_id: int, held: int, spent: int) -> int:
        """A call holding `held` ended having spent `spent`; returns the units of hold that
        leave the lease with its settlement (after a revocation, the unspent part too)."""
        lease = self._leases[user_id]
        leaving = min(held, spent)
        lease.used -= held
        stale = min(held - leaving, lease.stale)
        lease.stale = min(lease.stale - stale, lease.used)
        if stale:
            self._unflushed.add(user_id)
        leaving += stale
        lease.leased -= leaving
        return leaving

    def cancel(self, user_id: int, held: int) -> None:
        """A call holding `held` ends before anything was spent (refused by its key, or
        cancelled): its hold returns to the lease, or, the part a revocation made stale, to
        the user's unheld balance."""
        leaving = self.release(user_id, held, 0)
        if leaving:
            self._writer.add("settlements", ledger.HoldRelease(user_id, leaving, self.owner))

    def release_idle(self, now: float | None = None) -> None:
        """Give back the unused part of leases not used for `idle_seconds`."""
        now = time.monotonic() if now is None else now
        for user_id, lease in list(self._leases.items()):
            if now - lease.last_used < self._idle or lease.growing or lease.waiting:
                continue
            self._give_back(user_id, lease, now)

    def give_back(self, user_ids: Iterable[int]) -> None:
        """Give back these users' leases now, busy or not (their credits were taken away:
        the next call leases again from what is left). A growth in flight gives back what
        it brings when it lands; calls running now do not return their unspent holds."""
        for user_id in user_ids:
            lease = self._leases.get(user_id)
            if lease is not None:
                lease.revision += 1
                lease.stale = lease.used
                self._give_back(user_id, lease)

    def _give_back(self, user_id: int, lease: _Lease, now: float | None = None) -> None:
        """Give back the lease's free part; forget the lease once it holds nothing and
        remembers no refusal."""
        free = lease.free
        if free > 0:
            lease.leased -= free
            self._writer.add("settlements", ledger.HoldRelease(user_id, free, self.owner))
            self._unflushed.add(user_id)
        remembers = (time.monotonic() if now is None else now) < lease.refused_until
        if not (lease.leased or lease.used or lease.growing or lease.waiting or remembers):
            del self._leases[user_id]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gatewayz-credit-holds")

    async def stop(self) -> None:
        """Let growths in flight land, then give back every unused lease (the writer writes
        it at its own stop)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.growths_landed()
        self.release_idle(now=float("inf"))

    async def growths_landed(self) -> None:
        """Wait until no lease is growing (each growth in flight has landed in its lease)."""
        while growing := [lease.growing for lease in self._leases.values() if lease.growing]:
            await asyncio.gather(*growing, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._idle / 2)
            self.release_idle()


def _log_failure(growth: "asyncio.Task[int]") -> None:
    if not growth.cancelled() and growth.exception() is not None:
        log.warning("could not grow a credit lease: %s", type(growth.exception()).__name__)

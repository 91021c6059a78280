"""The in-process store: the same windows as in Redis, counted for this process only."""

import time
from collections.abc import Callable

from gatewayz.limits.windows import (
    CONCURRENCY_RETRY_MS,
    Verdict,
    Window,
    WindowState,
    state_of,
)

_SWEEP_AT = 100_000


def _now_ms() -> float:
    return time.monotonic() * 1000


class MemoryStore:
    """Buckets and leases in dictionaries; every check runs without awaiting, so atomically."""

    def __init__(self, clock: Callable[[], float] = _now_ms) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._sweep_at = _SWEEP_AT

    async def admit(
        self, windows: tuple[Window, ...], tokens: int, lease: str, lease_ms: int
    ) -> Verdict:
        now = self._clock()
        before: list[WindowState] = []
        after: list[WindowState] = []
        drawn: dict[str, float] = {}
        allowed = True
        for window in windows:
            if window.period_ms == 0:
                held = self._live_leases(window.key, now)
                free = window.limit - len(held)
                refused = free < 1
                before.append(WindowState(max(free, 0), 0, CONCURRENCY_RETRY_MS if refused else 0))
                after.append(WindowState(max(free - 1, 0), 0, 0))
            else:
                tat = max(self._tats.get(window.key, now), now)
                new_tat = tat + window.cost(tokens) * window.period_ms / window.limit
                over = new_tat - now - window.period_ms
                refused = over > 0
                before.append(state_of(tat, now, window, max(over, 0.0)))
                after.append(state_of(new_tat, now, window, 0.0))
                drawn[window.key] = new_tat
            allowed = allowed and not refused
        if not allowed:
            return Verdict(False, tuple(before))
        self._tats.update(drawn)
        for window in windows:
            if window.period_ms == 0:
                self._leases.setdefault(window.key, {})[lease] = now + lease_ms
        if len(self._tats) + len(self._leases) > self._sweep_at:
            self._sweep(now)
        return Verdict(True, tuple(after))

    async def release(
        self, windows: tuple[Window, ...], lease: str, reserved: int, used: int
    ) -> None:
        now = self._clock()
        for window in windows:
            if window.period_ms == 0:
                self._leases.get(window.key, {}).pop(lease, None)
            elif window.kind == "tokens":
                delta = used - window.cost(reserved)
                tat = max(self._tats.get(window.key, now), now)
                tat += delta * window.period_ms / window.limit
                if tat > now:
                    self._tats[window.key] = tat
                else:
                    self._tats.pop(window.key, None)

    def _live_leases(self, key: str, now: float) -> dict[str, float]:
        held = self._leases.get(key, {})
        for lease in [lease for lease, until in held.items() if until <= now]:
            del held[lease]
        return held

    def _sweep(self, now: float) -> None:
        """Forget full buckets and empty lease sets, so idle subjects cost no memory."""
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        self._leases = {key: held for key, held in self._leases.items() if held}
        self._sweep_at = max(_SWEEP_AT, 2 * (len(self._tats) + len(self._leases)))

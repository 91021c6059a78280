"""Windows and what a store answers about them.

Rate windows (requests or tokens over a period) are token buckets kept as a GCRA
"theoretical arrival time" (TAT): a bucket of `limit` refilled evenly over `period`,
drawn by each call's cost. Concurrency windows hold one expiring lease per call in flight.
Both stores (Redis, in-process) implement exactly this arithmetic.
"""

from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["requests", "tokens", "concurrency"]
# Whose limit a window is: an API key's, its user's (override, plan or default), an address's.
Scope = Literal["key", "user", "address"]
MINUTE_MS = 60_000
DAY_MS = 86_400_000
CONCURRENCY_RETRY_MS = 1_000  # when a slot frees is unknown: suggest a retry in a second


@dataclass(frozen=True, slots=True)
class Window:
    """One limit on one subject of `scope`: `key` names it in the store, `period_ms` is 0 for
    concurrency."""

    key: str
    kind: Kind
    limit: int
    period_ms: int
    label: str
    scope: Scope

    def cost(self, tokens: int) -> int:
        """What one call draws: its tokens (at most the whole bucket), else one."""
        return min(tokens, self.limit) if self.kind == "tokens" else 1


@dataclass(frozen=True, slots=True)
class WindowState:
    """A window after the check: what is left, when it is full again, and (if it refused)
    when the call would fit."""

    remaining: int
    reset_ms: int
    retry_ms: int


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    states: tuple[WindowState, ...]


class Store(Protocol):
    """Where windows are counted: checked and drawn all at once, or not at all."""

    async def admit(
        self, windows: tuple[Window, ...], tokens: int, lease: str, lease_ms: int
    ) -> Verdict: ...

    async def release(
        self, windows: tuple[Window, ...], lease: str, reserved: int, used: int
    ) -> None: ...


def state_of(tat: float, now: float, window: Window, retry_ms: float) -> WindowState:
    """A rate window's state when its bucket stands at `tat`."""
    interval = window.period_ms / window.limit
    ahead = max(tat - now, 0.0)
    remaining = int((window.period_ms - ahead) // interval)
    return WindowState(max(remaining, 0), _ceil(ahead), _ceil(retry_ms))


def _ceil(ms: float) -> int:
    return int(-(-ms // 1))

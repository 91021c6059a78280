"""May they call now: the windows of a key, its user and a client address, checked at once."""

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.limits import overrides
from gatewayz.limits.headers import rate_headers, refusal
from gatewayz.limits.redis_or_memory import RedisOrMemoryStore
from gatewayz.limits.settings import LimitsSettings, LimitValues
from gatewayz.limits.windows import DAY_MS, MINUTE_MS, Kind, Scope, Store, Window

log = logging.getLogger(__name__)
_MAX_CACHED = 100_000
_KINDS: tuple[tuple[str, Kind, int, str], ...] = (
    ("rpm", "requests", MINUTE_MS, "requests per minute"),
    ("rpd", "requests", DAY_MS, "requests per day"),
    ("tpm", "tokens", MINUTE_MS, "tokens per minute"),
    ("concurrency", "concurrency", 0, "calls at once"),
)


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted call: its rate headers, and what to give back when it ends."""

    headers: dict[str, str]
    store: Store
    windows: tuple[Window, ...]
    lease: str
    tokens: int


class Limiter:
    """Admits calls against every window that applies to them, or raises RateLimited."""

    def __init__(
        self,
        settings: LimitsSettings,
        store: RedisOrMemoryStore,
        engine: AsyncEngine,
        plan_limits: Callable[[int], LimitValues | None] | None = None,
    ) -> None:
        self._settings = settings
        self._plan_limits = plan_limits
        self._store = store
        self._engine = engine
        self._overrides = overrides.Overrides()
        self._windows: dict[tuple[int, int], tuple[Window, ...]] = {}
        self._lease_ids = itertools.count()
        self._process = secrets.token_hex(6)
        self._lease_ms = round(settings.concurrency_lease_seconds * 1000)
        self._releases: set[asyncio.Task[None]] = set()
        self._refresh: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect the store, read the overrides and keep them fresh."""
        await self._store.start()
        await self._load_overrides()
        self._refresh = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)
        await asyncio.gather(*self._releases, return_exceptions=True)
        await self._store.stop()

    def state(self) -> dict[str, str]:
        return self._store.state()

    async def reload_overrides(self) -> None:
        """Read the per-user and per-key limits now (after a change made in this process)."""
        await self._load_overrides()

    def forget_windows(self) -> None:
        """Work out every caller's windows again at their next call (their plan changed)."""
        self._windows = {}

    async def admit(self, user_id: int, key_id: int, tokens: int) -> Admission | None:
        """Draw one request, `tokens` tokens and a concurrency slot from the caller's windows;
        None when no limit applies to the caller."""
        windows = self._windows.get((user_id, key_id))
        if windows is None:
            windows = self._caller_windows(user_id, key_id)
        if not windows:
            return None
        lease = f"{self._process}:{next(self._lease_ids)}"
        store, verdict = await self._store.admit(windows, tokens, lease, self._lease_ms)
        if not verdict.allowed:
            raise refusal(windows, verdict.states)
        held = tuple(w for w in windows if w.kind != "requests")
        return Admission(rate_headers(windows, verdict.states), store, held, lease, tokens)

    def finish(self, admission: Admission | None, used_tokens: int) -> None:
        """Free the call's concurrency slot and correct its tokens to what it really used."""
        if admission is None or not admission.windows:
            return
        task = asyncio.get_running_loop().create_task(
            self._store.release(
                admission.store,
                admission.windows,
                admission.lease,
                admission.tokens,
                used_tokens,
            )
        )
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def admit_address(self, address: str) -> dict[str, str]:
        """Count one request from a client address; its rate headers, or RateLimited."""
        limits = self._settings.address
        windows = _rate_windows(
            f"{self._settings.redis_prefix}:ip:{address}",
            "address",
            "from this address",
            LimitValues(rpm=limits.rpm, rpd=limits.rpd),
        )
        if not windows:
            return {}
        _, verdict = await self._store.admit(windows, 0, "", self._lease_ms)
        if not verdict.allowed:
            raise refusal(windows, verdict.states)
        return rate_headers(windows, verdict.states)

    def _caller_windows(self, user_id: int, key_id: int) -> tuple[Window, ...]:
        """The windows of a key and of its user (user override, else plan, else defaults)."""
        settings, found = self._settings, self._overrides
        key_limits = found.keys.get(key_id, LimitValues()).over(settings.key)
        plan = self._plan_limits(user_id) if self._plan_limits else None
        base = settings.plan(None) if plan is None else plan.over(settings.user)
        user_limits = found.users.get(user_id, LimitValues()).over(base)
        prefix = settings.redis_prefix
        windows = _rate_windows(f"{prefix}:k:{key_id}", "key", "for this API key", key_limits)
        windows += _rate_windows(f"{prefix}:u:{user_id}", "user", "for this user", user_limits)
        if len(self._windows) >= _MAX_CACHED:
            self._windows.clear()
        self._windows[(user_id, key_id)] = windows
        return windows

    async def _load_overrides(self) -> None:
        try:
            self._overrides = await overrides.load(self._engine)
        except Exception as exc:
            log.warning("rate limits: cannot read the overrides (%s)", type(exc).__name__)
            return
        self._windows = {}

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.overrides_refresh_seconds)
            await self._load_overrides()


def _rate_windows(
    subject: str, scope: Scope, whose: str, limits: LimitValues
) -> tuple[Window, ...]:
    """A window for each limit that is set, in a fixed order."""
    return tuple(
        Window(f"{subject}:{name}", kind, limit, period, f"{limit} {what} {whose}", scope)
        for name, kind, period, what in _KINDS
        if (limit := getattr(limits, name))
    )

"""Redis while it answers, this process's memory while it does not.

A Redis call that fails, or whose batch does not answer within the timeout (see
pipeline.py and deadline.py), switches every later call to the in-process store (logged
once); a probe then tries Redis every `retry_seconds` and switches back when it answers.
Calls admitted by one store are given back to that same store; what could not be given
back to Redis is given back when it answers again.
"""

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from typing import Literal

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gatewayz.limits.deadline import MOST_SECONDS, within
from gatewayz.limits.memory import MemoryStore
from gatewayz.limits.redis_store import RedisStore
from gatewayz.limits.windows import Store, Verdict, Window

log = logging.getLogger(__name__)
_FAILURES = (RedisError, OSError, TimeoutError)
_MAX_UNRELEASED = 100_000
_Release = tuple[tuple[Window, ...], str, int, int]


class RedisOrMemoryStore:
    """Picks the store for each call and watches over Redis."""

    def __init__(self, redis_url: str | None, timeout: float, retry_seconds: float) -> None:
        self.memory = MemoryStore()
        self._retry_seconds = retry_seconds
        self._redis: RedisStore | None = None
        if redis_url:
            client = Redis.from_url(
                redis_url,
                socket_timeout=MOST_SECONDS,
                socket_connect_timeout=MOST_SECONDS,
                retry=Retry(NoBackoff(), 0),
                lib_name=None,
                lib_version=None,
            )
            self._redis = RedisStore(client, timeout)
        self._healthy = False
        self._probe: asyncio.Task[None] | None = None
        self._unreleased: deque[_Release] = deque(maxlen=_MAX_UNRELEASED)

    async def start(self) -> None:
        """Connect to Redis if one is configured; keep probing in the background if it is
        not there yet."""
        if self._redis is None:
            return
        if await self._prepared():
            self._healthy = True
            log.info("rate limits: counted in Redis, shared by every gateway process")
        else:
            self._lost("unreachable at start-up")

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
        if self._redis is not None:
            await self._redis.client.aclose()

    def state(self) -> dict[str, str]:
        """For health endpoints: the store in use and, if one is configured, Redis's state."""
        backend: Literal["redis", "memory"] = "redis" if self._healthy else "memory"
        if self._redis is None:
            return {"backend": backend, "redis": "not configured"}
        return {"backend": backend, "redis": "ok" if self._healthy else "unreachable"}

    async def admit(
        self, windows: tuple[Window, ...], tokens: int, lease: str, lease_ms: int
    ) -> tuple[Store, Verdict]:
        """The verdict, and the store that gave it (to give the call back to)."""
        redis = self._redis
        if redis is not None and self._healthy:
            try:
                verdict = await redis.admit(windows, tokens, lease, lease_ms)
                return redis, verdict
            except _FAILURES as exc:
                # it may have taken a concurrency slot all the same: free it once Redis is back
                slots = tuple(w for w in windows if w.kind == "concurrency")
                if slots:
                    self._unreleased.append((slots, lease, 0, 0))
                self._lost(exc)
        return self.memory, await self.memory.admit(windows, tokens, lease, lease_ms)

    async def release(
        self, store: Store, windows: tuple[Window, ...], lease: str, reserved: int, used: int
    ) -> None:
        """Give back a call's lease and unused tokens (to a lost Redis once it is back)."""
        try:
            await store.release(windows, lease, reserved, used)
        except _FAILURES as exc:
            if store is self._redis:
                self._unreleased.append((windows, lease, reserved, used))
                self._lost(exc)

    def _lost(self, reason: object) -> None:
        if self._probe is not None and not self._probe.done():
            return
        self._healthy = False
        log.warning(
            "rate limits: Redis lost (%s); counting in this process until it answers again",
            reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}",
        )
        self._probe = asyncio.get_running_loop().create_task(
            self._reconnect(), context=contextvars.Context()
        )

    async def _reconnect(self) -> None:
        await asyncio.sleep(self._retry_seconds)
        while not await self._prepared():
            await asyncio.sleep(self._retry_seconds)
        assert self._redis is not None
        while self._unreleased:
            with contextlib.suppress(*_FAILURES):
                await self._redis.release(*self._unreleased.popleft())
        self._healthy = True
        log.warning("rate limits: Redis answers again; counting in Redis")

    async def _prepared(self) -> bool:
        """Whether Redis answers, with the scripts loaded (given time to connect)."""
        assert self._redis is not None
        try:
            await within(self._redis.prepare(), MOST_SECONDS)
        except _FAILURES:
            return False
        return True

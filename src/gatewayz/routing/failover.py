"""Failover: try routes in order, retrying with backoff, within a per-request budget."""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar

from gatewayz.errors import UpstreamError
from gatewayz.providers.catalog import Route
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.settings import RoutingSettings

T = TypeVar("T")
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Served(Generic[T]):
    """What the attempt that succeeded returned, which route served it, after how many tries."""

    value: T
    route: Route
    attempts: int


def is_retryable(error: UpstreamError) -> bool:
    """Connection errors, timeouts, 429 and 5xx; never a 4xx caused by the request itself."""
    return error.status in RETRYABLE_STATUSES


def retry_after_seconds(error: UpstreamError) -> float | None:
    """The upstream's Retry-After (seconds or an HTTP date), if it sent one."""
    value = error.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class Failover:
    def __init__(
        self,
        health: HealthBoard,
        settings: RoutingSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._health = health
        self._settings = settings
        self._sleep = sleep
        self._jitter = jitter

    async def run(
        self,
        routes: list[Route],
        attempt: Callable[[Route], Awaitable[T]],
        proceed: Callable[[], bool] = lambda: True,
    ) -> Served[T]:
        """Call `attempt` on routes in turn (cycling) until one succeeds or the budget ends.

        A route whose circuit is open is skipped. A route tried before waits an exponential,
        jittered backoff, and at least the Retry-After its upstream asked for. Once
        `proceed()` is false no further attempt starts: the last failure is raised.
        """
        settings = self._settings
        deadline = time.monotonic() + settings.max_retry_seconds
        tries: dict[str, int] = {}
        not_before: dict[str, float] = {}
        last_error: UpstreamError | None = None
        attempts = 0
        skipped_in_a_row = 0
        index = 0
        while attempts < settings.max_attempts and skipped_in_a_row < len(routes) and proceed():
            route = routes[index % len(routes)]
            key = route.public_id
            index += 1
            delay = max(0.0, not_before.get(key, 0.0) - time.monotonic())
            if key in tries:
                backoff = settings.backoff_base_seconds * 2 ** (tries[key] - 1)
                delay = max(
                    delay, min(settings.backoff_max_seconds, backoff) * (0.5 + self._jitter() / 2)
                )
            if time.monotonic() + delay > deadline:
                skipped_in_a_row += 1
                continue
            if delay:
                await self._sleep(delay)
            breaker = self._health.circuit(route.provider.name, route.model.id)
            if not breaker.allows():
                skipped_in_a_row += 1
                continue
            skipped_in_a_row = 0
            attempts += 1
            tries[key] = tries.get(key, 0) + 1
            started = time.monotonic()
            try:
                value = await attempt(route)
            except UpstreamError as exc:
                elapsed = time.monotonic() - started
                if not is_retryable(exc):
                    self._health.record(route.provider.name, route.model.id, True, elapsed, None)
                    exc.headers.setdefault("x-gatewayz-attempts", str(attempts))
                    raise
                self._health.record(
                    route.provider.name, route.model.id, False, elapsed, exc.message
                )
                last_error = exc
                wait = retry_after_seconds(exc)
                if wait is not None:
                    if wait > settings.max_retry_after_seconds:
                        not_before[key] = deadline
                    else:
                        not_before[key] = time.monotonic() + wait
                continue
            except BaseException:
                breaker.probe_in_flight = False
                raise
            self._health.record(
                route.provider.name, route.model.id, True, time.monotonic() - started, None
            )
            return Served(value, route, attempts)
        if last_error is None:
            names = ", ".join(sorted({r.provider.name for r in routes}))
            raise UpstreamError(
                names,
                "no healthy provider can serve this model now (circuits open)",
                status=503,
                code="no_healthy_provider",
            )
        last_error.headers.setdefault("x-gatewayz-attempts", str(attempts))
        raise last_error

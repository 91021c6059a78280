"""What a client hanging up does to its unstreamed call.

Until an attempt is in flight (planning, holding credit, waiting in failover backoff) the
call is cancelled at once: nothing is in flight upstream, nothing more is billed, the hold is
given back. While an attempt is in flight it runs to its end (bounded by the provider's own
timeouts), so that what the upstream answered is billed; no further attempt starts. Such calls
outlive their request, so they are tracked in a set their relay awaits at shutdown.

No task is started for this: the call keeps running in its request's task.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Departure:
    """Whether the client of one call has left, and what its leaving does (see the module
    docstring). Made in the task that runs the call."""

    def __init__(self, outliving: set[asyncio.Task[Any]]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._outliving = outliving
        self._in_flight = False
        self.left = False

    def leave(self) -> None:
        """The client has gone: cancel the call, or let its attempt in flight finish."""
        self.left = True
        if not self._in_flight:
            self._task.cancel()
            return
        self._outliving.add(self._task)
        self._task.add_done_callback(self._outliving.discard)

    def stays(self) -> bool:
        """Whether the client is still there (another attempt may start)."""
        return not self.left

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Around one upstream attempt: leaving meanwhile lets it finish."""
        self._in_flight = True
        try:
            yield
        finally:
            self._in_flight = False


class OutlivingCalls:
    """The unstreamed calls still running after their client left (their requests' tasks)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> int:
        return len(self._tasks)

    def departure(self) -> Departure:
        """A Departure for the call the current task runs."""
        return Departure(self._tasks)

    async def drain(self, timeout: float) -> None:
        """At shutdown: wait for these calls to end (their settlement queued), then cancel any
        still running after `timeout` seconds (settled with no charge)."""
        if not self._tasks:
            return
        _, running = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=1)

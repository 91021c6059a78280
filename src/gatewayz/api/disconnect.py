"""Stop a request's work as soon as its client hangs up.

uvicorn does not cancel a handler whose client has gone (and silently drops what is sent to
it), so a guard watches for `http.disconnect` and cancels the handler's task. The watch
starts after a short grace period: most calls end before it, and then cost no extra task.
"""

import asyncio
from collections.abc import Awaitable
from types import TracebackType
from typing import TypeVar

from starlette.responses import Response
from starlette.types import Receive

T = TypeVar("T")
GRACE_SECONDS = 0.05
CLIENT_CLOSED = 499


class DisconnectGuard:
    """While open, cancels the current task when the client disconnects."""

    def __init__(self, receive: Receive, grace: float = GRACE_SECONDS) -> None:
        self._receive = receive
        self._grace = grace
        self.fired = False

    def __enter__(self) -> "DisconnectGuard":
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._watcher: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(self._grace, self._start)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
        if self.fired and exc_type is asyncio.CancelledError:
            self._task.uncancel()
            return True
        return False

    def _start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.fired = True
        self._task.cancel()


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T | Response:
    """`work`'s result, or an (undeliverable) 499 response if the client left first."""
    with DisconnectGuard(receive):
        return await work
    return Response(status_code=CLIENT_CLOSED)

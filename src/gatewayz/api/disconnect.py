"""Act as soon as a request's client hangs up.

uvicorn does not cancel a handler whose client has gone (and silently drops what is sent to
it), so a guard watches for `http.disconnect` and cancels the handler's task, or runs the
work's own reaction (an unstreamed call already sent upstream lets it finish, to bill it).
The watch starts after a short grace period: most calls end before it, and then cost no
extra task.
"""

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from starlette.responses import Response
from starlette.types import Receive

T = TypeVar("T")
GRACE_SECONDS = 0.05
CLIENT_CLOSED = 499


class DisconnectGuard:
    """While open, runs `on_disconnect` when the client disconnects: by default, cancel the
    current task. A cancellation it caused ends the `with` block quietly."""

    def __init__(
        self,
        receive: Receive,
        grace: float = GRACE_SECONDS,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self._receive = receive
        self._grace = grace
        self._on_disconnect = on_disconnect
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
        (self._on_disconnect or self._task.cancel)()


async def unless_disconnected(
    receive: Receive, work: Awaitable[T], on_disconnect: Callable[[], None] | None = None
) -> T | Response:
    """`work`'s result, or an (undeliverable) 499 response if the client's leaving cancelled
    it first; `on_disconnect` replaces that cancellation (see DisconnectGuard)."""
    with DisconnectGuard(receive, on_disconnect=on_disconnect):
        return await work
    return Response(status_code=CLIENT_CLOSED)

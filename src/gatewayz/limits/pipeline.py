"""Redis commands sent in batches: those made while one batch is in flight go out together as
the next, in one pipeline and one round trip.

Under a burst this keeps a few connections busy instead of opening one per call, and gives
each batch (not each queued call) the timeout, so a busy process does not mistake its own
queue for a slow Redis.
"""

import asyncio
from typing import Any

from redis.asyncio import Redis

from gatewayz.limits.deadline import within

MAX_BATCH = 256

_Pending = list[tuple[tuple[Any, ...], "asyncio.Future[Any]"]]


class Pipeliner:
    """Runs commands on `client`; a failed batch fails every command waiting with it."""

    def __init__(self, client: Redis, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._pending: _Pending = []
        self._sender: asyncio.Task[None] | None = None

    async def run(self, *command: Any) -> Any:
        """The reply to one command, or the error of the batch that carried it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((command, future))
        if self._sender is None:
            self._sender = loop.create_task(self._send())
        return await future

    async def _send(self) -> None:
        batch: _Pending = []
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                pipe = self._client.pipeline(transaction=False)
                for command, _ in batch:
                    pipe.execute_command(*command)
                try:
                    replies = await within(pipe.execute(), self._timeout)
                except Exception as exc:
                    for _, future in batch + self._pending:
                        if not future.done():
                            future.set_exception(exc)
                    self._pending = []
                    return
                for (_, future), reply in zip(batch, replies, strict=True):
                    if not future.done():
                        future.set_result(reply)
        finally:
            self._sender = None
            for _, future in batch + self._pending:  # left waiting only if cancelled
                future.cancel()
            self._pending = []

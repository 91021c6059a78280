"""What every fake server shares: start/stop on an ephemeral 127.0.0.1 port, async context
management, and recording the requests an aiohttp fake receives."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web


@dataclass(frozen=True)
class RecordedRequest:
    """One request as a fake received it; header names are lower-cased, ``json`` is the parsed
    body (None when there is none or it is not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    query: dict[str, str] = field(default_factory=dict)


async def record(request: web.Request) -> RecordedRequest:
    """Read ``request`` (its whole body) into a RecordedRequest."""
    body: Any = None
    if request.can_read_body:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
    headers = {name.lower(): value for name, value in request.headers.items()}
    return RecordedRequest(request.method, request.path, headers, body, dict(request.query))


class FakeService:
    """A server a test runs with ``async with``: ``start`` on entry, ``stop`` on exit."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class FakeServer(FakeService):
    """An aiohttp app on an ephemeral 127.0.0.1 port; subclasses fill it in ``configure``.

    Once started, ``base_url`` is ``http://127.0.0.1:<port>`` followed by ``url_path``.
    """

    url_path = ""

    def __init__(self) -> None:
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def configure(self, app: web.Application) -> None:
        """Add this fake's routes, middlewares and signal handlers to ``app``."""
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self.configure(app)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}{self.url_path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def open_event_stream(request: web.Request) -> web.StreamResponse:
    """A prepared ``text/event-stream`` response, ready for ``write``."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    return response


def close_connection(request: web.Request) -> None:
    """Close the socket mid-body, after what was written so far has been flushed."""
    if request.transport is not None:
        request.transport.close()


async def wait_for_hangup(request: web.Request, seconds: float) -> bool:
    """Wait until the client closes the connection (True) or `seconds` pass (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if request.transport is None or request.transport.is_closing():
            return True
        await asyncio.sleep(0.02)
    return False


def still_connected(request: web.Request) -> bool:
    """Whether the client is still there to receive an answer."""
    return request.transport is not None and not request.transport.is_closing()

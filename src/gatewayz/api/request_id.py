"""Gives every request an id, in its per-request state (read by `request_id_of`) and the
`x-request-id` header, and has telemetry observe it: the request's context for logs and
metrics, its span and `x-trace-id` header when tracing.

Ids only need to be unique, not secret, so they come from the fast non-cryptographic
generator: a private one, since an id is also the key of the call's settlement and whoever
seeds the global `random` (a library, a test framework) must not make ids repeat.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:  # errors.py reads the id; telemetry imports errors.py
    from gatewayz.telemetry.observer import RequestObserver


def request_id_of(conn: HTTPConnection) -> str | None:
    """The id this middleware gave the request; None for one it did not see."""
    found: str | None = conn.scope.get("state", {}).get("request_id")
    return found


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, observer: RequestObserver) -> None:
        self.app = app
        self.observer = observer
        self._ids = random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{self._ids.getrandbits(96):024x}"
        scope.setdefault("state", {})["request_id"] = request_id
        context = self.observer.start(scope, request_id)
        headers = [(b"x-request-id", request_id.encode())]
        if context.trace_id is not None:
            headers.append((b"x-trace-id", context.trace_id.encode()))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.observer.finish(scope, context)

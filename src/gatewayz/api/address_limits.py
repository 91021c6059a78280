"""Limits by client address on the endpoints that need no API key (the public catalog)."""

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatewayz.api.deps import scope_services
from gatewayz.errors import RateLimited, render


class AddressLimitMiddleware:
    """Counts each request to `paths` (and below them) against its client address."""

    def __init__(self, app: ASGIApp, paths: tuple[str, ...]) -> None:
        self.app = app
        self._exact = frozenset(paths)
        self._prefixes = tuple(f"{path}/" for path in paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (
            path not in self._exact and not path.startswith(self._prefixes)
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        limiter = scope_services(scope).limiter
        try:
            headers = await limiter.admit_address(client[0] if client else "unknown")
        except RateLimited as exc:
            await render(exc, Request(scope))(scope, receive, send)
            return
        extra = [(name.encode(), value.encode()) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

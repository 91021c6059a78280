"""Bounds every request body: 413, in the format of the API called, for a body over its
endpoint's limit, at once when Content-Length announces it, else as soon as the chunks
received pass the limit. Nothing past the limit reaches the app or is kept (early_answer
says what is received and dropped after the 413).

A request with a Content-Length within the limit passes untouched (the server delivers no
more than that), so the common case costs one look at the headers.
"""

from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatewayz.api.early_answer import DISCARD_SCOPE_KEY, answer_early
from gatewayz.errors import RequestTooLarge


class BodyLimitMiddleware:
    """`limits` gives the limit of some paths in bytes, `patterns` that of the paths with
    parameters (a predicate and its limit); every other path has `default`."""

    def __init__(
        self,
        app: ASGIApp,
        default: int,
        limits: Mapping[str, int],
        patterns: tuple[tuple[Callable[[str], bool], int], ...] = (),
    ) -> None:
        self.app = app
        self._default = default
        self._limits = dict(limits)
        self._patterns = patterns

    def _limit(self, path: str) -> int:
        limit = self._limits.get(path)
        if limit is not None:
            return limit
        return next((bound for match, bound in self._patterns if match(path)), self._default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        scope[DISCARD_SCOPE_KEY] = 2 * limit
        length = _declared_length(scope)
        if length is None:
            await _Counted(self.app, limit)(scope, receive, send)
        elif length > limit:
            await answer_early(RequestTooLarge(limit), scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length, or None when the body comes in chunks or has no valid length."""
    length = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            length = int(value) if value.strip().isdigit() else None
    return length


class _Counted:
    """Runs the app on a body counted as it arrives: past `limit`, the client gets the 413,
    the app sees the client gone, and whatever it answers after that is dropped."""

    __slots__ = ("_app", "_limit", "_received", "_refused", "_started")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit
        self._received = 0
        self._refused = False
        self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            if self._refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self._received += len(message.get("body", b""))
                if self._received > self._limit:
                    self._refused = True
                    if not self._started:
                        await answer_early(RequestTooLarge(self._limit), scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if self._refused:
                return
            if message["type"] == "http.response.start":
                self._started = True
            await send(message)

        await self._app(scope, counted, guarded)

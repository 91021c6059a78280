"""The dashboard's way to the gateway's own API: a request made in process, through the whole
app (middleware, authentication, permissions, validation, the relay), with the session's key
and the browser's address, so a page shows exactly what the API answers and every change it
makes is the API's, audited as the API audits it."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message

USER_AGENT = b"gatewayz-dashboard"


@dataclass(frozen=True, slots=True)
class Answer:
    """An API answer: its status, headers (lower-case names) and decoded JSON body."""

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def error(self) -> str:
        """The message of an error answer (OpenAI's error object), else ''."""
        if self.ok:
            return ""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return str(message or f"The gateway answered {self.status}.")


@dataclass(frozen=True, slots=True)
class Opened:
    """A streamed answer: status and headers, then the body as it comes."""

    status: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]


class ApiClient:
    """Calls the app of `request` as the holder of `api_key`, from the request's client."""

    def __init__(self, request: Request, api_key: str) -> None:
        self._app: ASGIApp = request.app
        self._outer = request.scope
        self._key = api_key

    async def get(self, path: str, **params: Any) -> Answer:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any = None, **params: Any) -> Answer:
        return await self.call("POST", path, body, params)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        """One call, its whole body read and decoded."""
        opened = await self.open(method, path, body, params)
        content = b"".join([chunk async for chunk in opened.chunks])
        decoded = orjson.loads(content) if content else None
        return Answer(opened.status, opened.headers, decoded)

    async def open(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Opened:
        """Start a call; its body is read from `chunks` as the app sends it. Leaving the
        iteration early disconnects the call, as a client hanging up would."""
        raw = b"" if body is None else orjson.dumps(body)
        scope = self._scope(method, path, raw, params or {})
        messages: asyncio.Queue[Message] = asyncio.Queue()
        gone = asyncio.Event()
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            await messages.put(message)

        task = asyncio.create_task(self._run(scope, receive, send, messages))
        start = await messages.get()
        if start["type"] != "http.response.start":  # the app failed before answering
            await task
            return Opened(500, {}, _empty())
        headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        return Opened(start["status"], headers, _body(messages, task, gone))

    async def _run(self, scope: dict[str, Any], receive: Any, send: Any, out: Any) -> None:
        try:
            await self._app(scope, receive, send)
        finally:
            await out.put({"type": "gatewayz.done"})

    def _scope(self, method: str, path: str, raw: bytes, params: dict[str, Any]) -> dict[str, Any]:
        query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
        outer = self._outer
        headers = [
            (b"host", dict(outer["headers"]).get(b"host", b"localhost")),
            (b"authorization", b"Bearer " + self._key.encode()),
            (b"user-agent", USER_AGENT),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ]
        for name, value in outer["headers"]:
            if name in (b"origin", b"referer", b"x-forwarded-for"):
                headers.append((name, value))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": outer.get("scheme", "http"),
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
            "client": outer.get("client"),
            "server": outer.get("server"),
            "state": {},
        }


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


async def _body(
    messages: "asyncio.Queue[Message]", task: "asyncio.Task[None]", gone: asyncio.Event
) -> AsyncIterator[bytes]:
    try:
        while True:
            message = await messages.get()
            if message["type"] != "http.response.body":
                break
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                break
    finally:
        gone.set()
        with contextlib.suppress(Exception):
            await task

"""Answering a request before the app reads its body (401, 403, 413), in the format of the
API called, at once, without keeping any of the body.

When a body is still on its way, the answer goes out whole first; then what follows of the
body is received and dropped (at most the scope's discard bound, twice the endpoint's body
limit, for at most `LINGER_SECONDS`), and the connection is closed. Clients that read while
they send (curl, aiohttp, browsers) get the answer at once and stop sending; clients that
read only once they have sent everything (the official SDKs) get it too, for any body within
the bound. Closing at once instead would reset the connection under a client still sending,
and with it the answer.
"""

import asyncio
import contextlib

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from gatewayz.errors import GatewayError, render

# Bytes of a refused request's body that may be received and dropped (set per request).
DISCARD_SCOPE_KEY = "gatewayz.discard_bytes"
LINGER_SECONDS = 10.0


def body_expected(scope: Scope) -> bool:
    """Whether the request announces a body (a non-zero Content-Length, or chunks)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
    return False


async def answer_early(error: GatewayError, scope: Scope, receive: Receive, send: Send) -> None:
    """Send `error` as the response, then drop what arrives of the body and close."""
    response = render(error, Request(scope))
    if not body_expected(scope):
        await response(scope, receive, send)
        return
    response.headers["connection"] = "close"
    start = {"type": "http.response.start", "status": response.status_code}
    await send({**start, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": True})
    await _drop_body(receive, scope.get(DISCARD_SCOPE_KEY, 0))
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _drop_body(receive: Receive, budget: int) -> None:
    """Receive and drop body chunks until the body ends, the client leaves, `budget` bytes
    have come, or `LINGER_SECONDS` have passed."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            while budget > 0:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body"):
                    return
                budget -= len(message.get("body", b""))

"""The reference the gateway is measured against: a bare aiohttp + uvloop pass-through.

No features: every request is sent on to ``--upstream`` (same method, path, body and headers,
less the hop-by-hop ones) through one pooled ``aiohttp.ClientSession``, and the answer is
streamed back as it arrives (server-sent events included). No auth, billing, logging or parsing.
Run: ``python bench/passthrough.py --port N --upstream http://127.0.0.1:M``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Mapping

import aiohttp
import uvloop
from aiohttp import web

HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade", "te")
)


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    """The end-to-end headers of a request or response."""
    return {name: value for name, value in headers.items() if name.lower() not in HOP_BY_HOP}


class PassThrough:
    """Forwards each request to one upstream base URL over one pooled client session."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        assert self.session is not None
        body = await request.read()
        async with self.session.request(
            request.method,
            self.upstream + request.path_qs,
            data=body,
            headers=forwarded(request.headers),
        ) as upstream:
            headers = forwarded(upstream.headers)
            if upstream.headers.get("Content-Type", "").startswith("text/event-stream"):
                response = web.StreamResponse(status=upstream.status, headers=headers)
                with contextlib.suppress(ConnectionResetError):  # the client hung up
                    await response.prepare(request)
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                return response
            return web.Response(status=upstream.status, body=await upstream.read(), headers=headers)


async def serve(host: str, port: int, upstream: str) -> None:
    proxy = PassThrough(upstream)
    await proxy.open()
    server = web.Server(proxy.handle, access_log=None)
    runner = web.ServerRunner(server)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:9000")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port, args.upstream))


if __name__ == "__main__":
    main()

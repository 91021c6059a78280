"""Compare upstream HTTP clients: httpx.AsyncClient vs aiohttp.ClientSession, one pooled each.

Starts ``bench/upstream.py`` on core 1 and, pinned to core 0 on uvloop, keeps ``--concurrency``
requests in flight through each client for ``--duration`` seconds, non-streaming and streaming
(reading the body line by line as a relay would), then prints requests/s for each.
Run: ``python bench/clients.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import uvloop

from processes import BENCH_DIR, accepts_connections, free_port, pinned, started, wait_until

MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
Send = Callable[[], Awaitable[None]]


def request_body(stream: bool) -> bytes:
    payload: dict[str, Any] = {"model": "bench-model", "messages": MESSAGES, "max_tokens": 16}
    if stream:
        payload |= {"stream": True, "stream_options": {"include_usage": True}}
    return orjson.dumps(payload)


async def measure(send: Send, concurrency: int, duration: float) -> float:
    """Requests/s with ``concurrency`` workers calling ``send`` back to back for ``duration``."""
    done = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await send()
            done += 1

    started_at = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started_at)


def httpx_sender(client: httpx.AsyncClient, url: str, stream: bool) -> Send:
    body = request_body(stream)
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}

    async def send() -> None:
        if stream:
            async with client.stream("POST", url, content=body, headers=headers) as response:
                response.raise_for_status()
                async for _ in response.aiter_lines():
                    pass
        else:
            response = await client.post(url, content=body, headers=headers)
            response.raise_for_status()
            orjson.loads(response.content)

    return send


def aiohttp_sender(session: aiohttp.ClientSession, url: str, stream: bool) -> Send:
    body = request_body(stream)
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}

    async def send() -> None:
        async with session.post(url, data=body, headers=headers) as response:
            response.raise_for_status()
            if stream:
                async for _ in response.content:
                    pass
            else:
                orjson.loads(await response.read())

    return send


async def compare(url: str, concurrency: int, duration: float) -> list[tuple[str, bool, float]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results = []
    async with (
        httpx.AsyncClient(limits=limits, timeout=30) as http,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session,
    ):
        for stream in (False, True):
            senders = [
                ("httpx.AsyncClient", httpx_sender(http, url, stream)),
                ("aiohttp.ClientSession", aiohttp_sender(session, url, stream)),
            ]
            for name, send in senders:
                await measure(send, concurrency, min(1.0, duration))
                results.append((name, stream, await measure(send, concurrency, duration)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per client and mode")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    port = free_port()
    upstream_argv = [sys.executable, str(BENCH_DIR / "upstream.py"), "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-") as workdir:
        log = Path(workdir) / "upstream.log"
        with started(pinned(1, upstream_argv), log) as upstream:
            wait_until(lambda: accepts_connections(port), upstream, "upstream", log)
            if (os.cpu_count() or 1) >= 2:
                os.sched_setaffinity(0, {0})
            print(
                f"httpx {httpx.__version__} vs aiohttp {aiohttp.__version__}: concurrency "
                f"{args.concurrency}, {args.duration:g} s each; client on core 0, upstream on 1"
            )
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            results = uvloop.run(compare(url, args.concurrency, args.duration))
    print(f"{'client':<24}{'mode':<12}{'req/s':>10}")
    for name, stream, rps in results:
        print(f"{name:<24}{'stream' if stream else 'non-stream':<12}{rps:>10,.0f}")


if __name__ == "__main__":
    main()

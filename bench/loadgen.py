"""Python load generator for machines without wrk: keep-alive connections on bare asyncio protocols.

Each connection sends the same chat completion request again as soon as the previous answer is
complete, for a fixed duration. Prints one line ``BENCH {json}`` in the same shape as
``bench/chat.lua``: requests, duration_us, p50_us, p99_us, errors, bad_status.

Run: ``python bench/loadgen.py URL --model M --api-key K [--stream] -c 32 -d 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time
from typing import cast
from urllib.parse import urlsplit

import orjson


def chat_request(host: str, port: int, path: str, model: str, api_key: str, stream: bool) -> bytes:
    """The raw HTTP/1.1 request the generator sends."""
    payload: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello in five words."}],
        "max_tokens": 16,
    }
    if stream:
        payload |= {"stream": True, "stream_options": {"include_usage": True}}
    body = orjson.dumps(payload)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {api_key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def response_length(buffer: bytearray) -> int | None:
    """Length of the complete HTTP response at the start of ``buffer``, or None if incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    headers = bytes(buffer[:end]).lower()
    start = end + 4
    marker = headers.find(b"\r\ncontent-length:")
    if marker >= 0:
        line_end = headers.find(b"\r\n", marker + 2)
        value = headers[marker + 17 : line_end if line_end >= 0 else len(headers)]
        total = start + int(value)
        return total if len(buffer) >= total else None
    position = start
    while True:
        size_end = buffer.find(b"\r\n", position)
        if size_end < 0:
            return None
        size = int(bytes(buffer[position:size_end]).split(b";")[0], 16)
        position = size_end + 2 + size + 2
        if len(buffer) < position:
            return None
        if size == 0:
            return position


class Stats:
    """Latencies of good answers, the count of bad ones and the last bad HTTP status."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.bad_status = 0


class LoadConnection(asyncio.Protocol):
    """One keep-alive connection sending the request back to back until the deadline."""

    def __init__(self, request: bytes, expected: bytes, deadline: float, stats: Stats) -> None:
        self.request = request
        self.expected = expected
        self.deadline = deadline
        self.stats = stats
        self.buffer = bytearray()
        self.started = 0.0
        self.in_flight = False
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.in_flight = True
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        length = response_length(self.buffer)
        if length is None:
            return
        finished = time.perf_counter()
        self.in_flight = False
        response = self.buffer[:length]
        del self.buffer[:length]
        status = int(response[9:12])
        if status == 200 and response.find(self.expected) >= 0:
            self.stats.latencies.append(finished - self.started)
        else:
            self.stats.errors += 1
            self.stats.bad_status = status if status != 200 else self.stats.bad_status
        assert self.transport is not None
        if finished < self.deadline:
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:
            self.stats.errors += 1
        if not self.closed.done():
            self.closed.set_result(None)


async def run_connection(
    host: str, port: int, request: bytes, expected: bytes, deadline: float, stats: Stats
) -> None:
    """Keep one connection busy until the deadline, reconnecting if the server drops it."""
    loop = asyncio.get_running_loop()
    while time.perf_counter() < deadline:
        try:
            _, connection = await loop.create_connection(
                lambda: LoadConnection(request, expected, deadline, stats), host, port
            )
        except OSError:
            stats.errors += 1
            await asyncio.sleep(0.01)
            continue
        await connection.closed


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def generate(
    url: str, model: str, api_key: str, stream: bool, concurrency: int, duration: float
) -> dict[str, int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = chat_request(host, port, parts.path, model, api_key, stream)
    expected = b"data: [DONE]" if stream else b'"chat.completion"'
    stats = Stats()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            run_connection(host, port, request, expected, deadline, stats)
            for _ in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(stats.latencies)
    return {
        "requests": len(ordered) + stats.errors,
        "duration_us": round(elapsed * 1e6),
        "p50_us": round(percentile(ordered, 0.50) * 1e6),
        "p99_us": round(percentile(ordered, 0.99) * 1e6),
        "errors": stats.errors,
        "bad_status": stats.bad_status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        result = runner(
            generate(
                args.url, args.model, args.api_key, args.stream, args.concurrency, args.duration
            )
        )
        print("BENCH " + orjson.dumps(result).decode())


if __name__ == "__main__":
    main()

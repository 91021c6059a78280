"""The fastest fake OpenAI upstream we can make: a bare asyncio protocol answering canned bytes.

``POST /v1/chat/completions`` answers a ``chat.completion`` with usage, or, for ``"stream": true``,
five content chunks, the finishing chunk, a usage chunk when ``stream_options.include_usage`` is
set, and ``data: [DONE]``. Any API key is accepted. Run: ``python bench/upstream.py --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any, cast

import orjson

MODEL = "bench-model"
WORDS = ("Hello ", "there, ", "nice ", "to ", "meet!")
USAGE = {"prompt_tokens": 12, "completion_tokens": len(WORDS), "total_tokens": 12 + len(WORDS)}
_ENVELOPE = {"id": "chatcmpl-bench", "created": 1700000000, "model": MODEL}


def _completion() -> bytes:
    message = {"role": "assistant", "content": "".join(WORDS), "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
    body = orjson.dumps(
        {**_ENVELOPE, "object": "chat.completion", "choices": [choice], "usage": USAGE}
    )
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


def _stream(include_usage: bool) -> bytes:
    def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        event = {**_ENVELOPE, "object": "chat.completion.chunk", "choices": [choice]}
        return {**event, "usage": None} if include_usage else event

    events: list[dict[str, Any] | str] = [chunk({"role": "assistant", "content": ""}, None)]
    events += [chunk({"content": word}, None) for word in WORDS]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append(
            {**_ENVELOPE, "object": "chat.completion.chunk", "choices": [], "usage": USAGE}
        )
    events.append("[DONE]")
    body = b""
    for event in events:
        data = event.encode() if isinstance(event, str) else orjson.dumps(event)
        sse = b"data: " + data + b"\n\n"
        body += b"%x\r\n" % len(sse) + sse + b"\r\n"
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n"
    )


def _status(status: str) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n" % status.encode()


COMPLETION = _completion()
STREAM = _stream(include_usage=False)
STREAM_WITH_USAGE = _stream(include_usage=True)
NOT_FOUND = _status("404 Not Found")
BAD_REQUEST = _status("400 Bad Request")
LENGTH_REQUIRED = _status("411 Length Required")


def answer(request_line: bytes, body: bytes) -> bytes:
    """The canned response for one request."""
    if not request_line.startswith(b"POST /v1/chat/completions "):
        return NOT_FOUND
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return BAD_REQUEST
    if not isinstance(payload, dict):
        return BAD_REQUEST
    if payload.get("stream") is not True:
        return COMPLETION
    options = payload.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return STREAM_WITH_USAGE
    return STREAM


class UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive connection that answers each request as soon as its body is in."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            request_line, _, headers = bytes(self.buffer[:end]).partition(b"\r\n")
            headers = headers.lower()
            length = 0
            for line in headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    self._reply(LENGTH_REQUIRED, close=True)
                    return
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = bytes(self.buffer[end + 4 : total])
            del self.buffer[:total]
            self._reply(answer(request_line, body), b"connection: close" in headers)

    def _reply(self, response: bytes, close: bool) -> None:
        assert self.transport is not None
        self.transport.write(response)
        if close:
            self.transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.host, args.port))


if __name__ == "__main__":
    main()

"""A fake Fal.ai model API: a real HTTP server answering `POST /{model id}` with images."""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web


@dataclass(frozen=True)
class FalRequest:
    path: str
    headers: dict[str, str]
    json: Any


class FakeFal:
    """Answers like fal.run: `{"images": [{"url", "width", "height", "content_type"}], ...}`.

    Requires `Authorization: Key <api_key>`. With `sync_mode` the URLs are data URIs.
    """

    def __init__(self, api_key: str = "fal-fake-key") -> None:
        self.api_key = api_key
        self.requests: list[FalRequest] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeFal:
        app = web.Application()
        app.router.add_post("/{model:.+}", self._generate)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _generate(self, request: web.Request) -> web.Response:
        body = await request.json(loads=orjson.loads)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(FalRequest(request.path, headers, body))
        if headers.get("authorization") != f"Key {self.api_key}":
            return web.json_response({"detail": "Unauthorized"}, status=401)
        size = body.get("image_size") or {"width": 1024, "height": 768}
        images = []
        for i in range(body.get("num_images", 1)):
            if body.get("sync_mode"):
                url = "data:image/jpeg;base64," + base64.b64encode(b"fal image %d" % i).decode()
            else:
                url = f"https://fal.media/files/fake-{i}.jpg"
            images.append({"url": url, "content_type": "image/jpeg", **size})
        return web.json_response(
            {"images": images, "seed": 42, "prompt": body["prompt"], "has_nsfw_concepts": [False]}
        )

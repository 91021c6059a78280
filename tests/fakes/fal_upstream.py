"""A fake Fal.ai model API: a real HTTP server answering `POST /{model id}` with images."""

from __future__ import annotations

import base64

from aiohttp import web

from tests.fakes.server import FakeServer, RecordedRequest, record


class FakeFal(FakeServer):
    """Answers like fal.run: `{"images": [{"url", "width", "height", "content_type"}], ...}`.

    Requires `Authorization: Key <api_key>`. With `sync_mode` the URLs are data URIs.
    """

    def __init__(self, api_key: str = "fal-fake-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []

    def configure(self, app: web.Application) -> None:
        app.router.add_post("/{model:.+}", self._generate)

    async def _generate(self, request: web.Request) -> web.Response:
        sent = await record(request)
        self.requests.append(sent)
        body = sent.json
        if sent.headers.get("authorization") != f"Key {self.api_key}":
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

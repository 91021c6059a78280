"""A fake of Resend's email API: a real HTTP server on 127.0.0.1 that records each request to
POST /emails and answers like Resend ({"id": ...}), or with the status a test asks for."""

from __future__ import annotations

import itertools

from aiohttp import web

from tests.fakes.server import FakeServer, RecordedRequest, record


class FakeResendAPI(FakeServer):
    def __init__(self, api_key: str = "re_test_fake_key") -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)

    def configure(self, app: web.Application) -> None:
        app.router.add_post("/emails", self._emails)

    async def _emails(self, request: web.Request) -> web.Response:
        sent = await record(request)
        self.requests.append(sent)
        body = sent.json
        if sent.headers.get("authorization") != f"Bearer {self.api_key}":
            return web.json_response(
                {"statusCode": 401, "name": "validation_error", "message": "API key is invalid"},
                status=401,
            )
        missing = [name for name in ("from", "to", "subject") if not body.get(name)]
        if missing:
            return web.json_response(
                {"statusCode": 422, "name": "missing_required_field", "message": missing[0]},
                status=422,
            )
        return web.json_response({"id": f"email_{next(self._ids)}"})

"""A request to an endpoint that needs an API key is refused before its body is read when the
key is missing, unknown or outside its restrictions: a huge unauthenticated upload costs the
gateway neither memory nor the time to receive it. Public endpoints keep taking bodies."""

import re
import time
from typing import Any

import httpx
import pytest

from gatewayz.api.authenticate_first import KeyedRoutes
from gatewayz.app import create_app
from gatewayz.settings import Settings
from tests.accounts.test_key_policy import _needs_key as takes_key
from tests.accounts.test_key_policy import _routes as app_routes
from tests.api.edge_support import (
    MIB,
    Answer,
    Upload,
    memory_mib,
    peak_memory_mib,
    post_upload,
    reset_peak_memory,
)
from tests.conftest import Gateway
from tests.e2e.support import assert_openai_error
from tests.openai_spec import validate

HUGE = 300 * MIB
JSON = {"content-type": "application/json"}
# Endpoints taking a body: a relayed call, and three whose pydantic body FastAPI would parse
# before it resolved the caller.
WITH_BODIES = ("/v1/chat/completions", "/user/checkout", "/admin/users", "/user/api-keys")


async def post_huge(base_url: str, path: str, headers: dict[str, str]) -> tuple[Answer, Upload]:
    """POST a 300 MB body streamed from a generator (no Content-Length: chunked)."""
    upload = Upload(HUGE)
    return await post_upload(base_url + path, upload, {**JSON, **headers}), upload


def openai_error(answer: Answer, status: int) -> dict[str, Any]:
    assert answer.status == status, answer.body
    assert answer.headers["x-request-id"].startswith("req_")
    validate("ErrorResponse", answer.body)
    error: dict[str, Any] = answer.body["error"]
    return error


@pytest.mark.parametrize("path", WITH_BODIES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer gw_live_not-a-real-key"}],
    ids=["missing key", "unknown key"],
)
async def test_a_huge_unauthenticated_post_is_refused_before_its_body_is_read(
    gateway: Gateway, path: str, headers: dict[str, str]
) -> None:
    await post_upload(gateway.base_url + path, Upload(1024), {**JSON, **headers})  # warm up
    reset_peak_memory()
    before = memory_mib()
    started = time.monotonic()
    response, upload = await post_huge(gateway.base_url, path, headers)
    elapsed = time.monotonic() - started
    grown = peak_memory_mib() - before  # before the checks below load the OpenAI spec

    error = openai_error(response, 401)
    assert error["type"] == "authentication_error"
    assert upload.sent < 16 * MIB, f"the client had to send {upload.sent // MIB} MiB"
    assert grown < 48, f"the gateway's memory grew by {grown:.0f} MiB"
    assert elapsed < 5


async def test_an_unauthenticated_anthropic_call_is_refused_in_anthropic_format_unread(
    gateway: Gateway,
) -> None:
    response, upload = await post_huge(gateway.base_url, "/v1/messages", {"x-api-key": "nope"})
    assert response.status == 401
    body = response.body
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert body["request_id"] == response.headers["request-id"]
    assert upload.sent < 16 * MIB


async def test_a_key_used_outside_its_restrictions_is_refused_before_the_body(
    gateway: Gateway,
) -> None:
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as http:
        created = await http.post(
            "/user/api-keys", json={"name": "fenced", "ip_allowlist": ["10.9.8.7"]}
        )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    response, upload = await post_huge(gateway.base_url, "/v1/chat/completions", headers)
    error = openai_error(response, 403)
    assert error["code"] == "key_ip_allowlist"
    assert upload.sent < 16 * MIB


@pytest.mark.parametrize("size", [100, 256 * 1024, 20 * MIB])
async def test_a_refusal_reaches_clients_that_read_only_after_sending(
    gateway: Gateway, size: int
) -> None:
    """The official SDKs (httpx) read the answer once the whole body is sent: a body of
    announced length is received and dropped, so they get the 401, and the next call on the
    same connection works."""
    content = b'{"model": "fake-model", "messages": [], "pad": "' + b"x" * size + b'"}'
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=20) as http:
        for _ in range(3):
            refused = await http.post(
                "/v1/chat/completions",
                content=content,
                headers={**JSON, "Authorization": "Bearer gw_live_wrong"},
            )
            assert_openai_error(refused, 401)
        answer = await http.post(
            "/v1/chat/completions",
            json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {gateway.api_key}"},
        )
    assert answer.status_code == 200, answer.text


async def test_public_endpoints_with_bodies_still_take_them_without_a_key(
    gateway: Gateway,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=20) as http:
        webhook = await http.post("/stripe/webhook", content=b'{"id": "evt_1"}', headers=JSON)
        catalog = await http.get("/v1/models")
    # No Stripe secret is configured here: the webhook itself answers, not authentication.
    assert webhook.status_code == 503, webhook.text
    assert webhook.json()["error"]["code"] == "payments_not_configured"
    assert catalog.status_code == 200


def test_every_route_that_takes_a_key_is_authenticated_before_its_body() -> None:
    """The routes found to need a key are exactly those depending on the caller's identity."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", secret="s", environ={}))
    routes = list(app_routes(app.routes))
    keyed = KeyedRoutes(routes)
    for route in routes:
        sample = re.sub(r"\{[^}]+\}", "7", route.path)
        for method in route.methods:
            scope = {"type": "http", "method": method, "path": sample, "root_path": ""}
            found = keyed.needing_key(scope)
            assert (found is route) == takes_key(route.dependant), f"{method} {route.path}"
    assert keyed.needing_key({"type": "http", "method": "POST", "path": "/nowhere"}) is None

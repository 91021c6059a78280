"""Request bodies are bounded while they stream in: over the limit is a 413 in the format of
the API called (at once when Content-Length says so), just under it works as ever."""

from collections.abc import AsyncIterator

import anthropic
import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.edge_support import (
    MIB,
    Upload,
    memory_mib,
    peak_memory_mib,
    post_upload,
    reset_peak_memory,
)
from tests.conftest import Gateway, add_funded_user, gateway_settings, serve
from tests.e2e.support import REPLY, assert_openai_error
from tests.fakes.openai_upstream import FakeOpenAIUpstream

LIMIT = 64 * 1024
OTHER_LIMIT = 4 * 1024
CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "say hi please"}]


def padded(size: int, **fields: object) -> bytes:
    """A chat request of exactly `size` bytes (an unknown `pad` field makes up the size)."""
    body = {"model": "fake-model", "messages": HI, **fields, "pad": ""}
    bare = orjson.dumps(body)
    body["pad"] = "x" * (size - len(bare))
    raw = orjson.dumps(body)
    assert len(raw) == size
    return raw


async def in_pieces(raw: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """`raw` streamed without a Content-Length (chunked)."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


@pytest.fixture
async def bounded(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Gateway]:
    """A gateway with small body limits: 64 KiB for model calls, 4 KiB for the rest."""
    user_id, key = await add_funded_user(engine, "bounded@example.com", "10")
    settings = gateway_settings(
        database_url, upstream, max_body_bytes=LIMIT, max_other_body_bytes=OTHER_LIMIT
    )
    async with serve(settings) as (base_url, state):
        yield Gateway(base_url, engine, state, user_id, key)


def client(gateway: Gateway) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {gateway.api_key}", "content-type": "application/json"}
    return httpx.AsyncClient(base_url=gateway.base_url, headers=headers, timeout=30)


async def test_a_body_over_the_limit_is_413_in_the_openai_format(
    bounded: Gateway, upstream: FakeOpenAIUpstream
) -> None:
    async with client(bounded) as http:
        declared = await http.post(CHAT, content=padded(LIMIT + 1))
        streamed = await http.post(CHAT, content=in_pieces(padded(LIMIT + 1)))
    for response in (declared, streamed):
        error = assert_openai_error(response, 413)
        assert error["code"] == "request_too_large"
        assert str(LIMIT) in error["message"]
    assert upstream.requests == []


async def test_a_body_just_under_the_limit_works(bounded: Gateway) -> None:
    async with client(bounded) as http:
        declared = await http.post(CHAT, content=padded(LIMIT))
        streamed = await http.post(CHAT, content=in_pieces(padded(LIMIT)))
    for response in (declared, streamed):
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == REPLY


async def test_an_anthropic_call_over_the_limit_is_request_too_large(bounded: Gateway) -> None:
    claude = anthropic.AsyncAnthropic(
        base_url=bounded.base_url, api_key=bounded.api_key, max_retries=0
    )
    with pytest.raises(anthropic.RequestTooLargeError) as raised:
        await claude.messages.create(
            model="fake-model",
            max_tokens=10,
            messages=[{"role": "user", "content": "x" * LIMIT}],
        )
    body = raised.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "request_too_large"
    assert body["request_id"] == raised.value.response.headers["request-id"]


async def test_other_endpoints_have_the_smaller_limit(bounded: Gateway) -> None:
    big = orjson.dumps({"email": "new@example.com", "name": "x" * OTHER_LIMIT})
    async with client(bounded) as http:
        admin = await http.post("/admin/users", content=big)
        webhook = await http.post("/stripe/webhook", content=big)
        small_webhook = await http.post("/stripe/webhook", content=b'{"id": "evt_1"}')
    assert assert_openai_error(admin, 413)["code"] == "request_too_large"
    assert assert_openai_error(webhook, 413)["code"] == "request_too_large"
    # Under the limit the webhook answers for itself (no Stripe secret is configured here).
    assert small_webhook.status_code == 503, small_webhook.text


async def test_a_huge_authenticated_upload_is_cut_off_at_the_default_limit(
    gateway: Gateway,
) -> None:
    """32 MiB by default: a 300 MB chunked upload is refused once 32 MiB have arrived."""
    upload = Upload(300 * MIB)
    headers = {"Authorization": f"Bearer {gateway.api_key}", "content-type": "application/json"}
    await post_upload(gateway.base_url + CHAT, Upload(1024), headers)  # warm up (a 400)
    reset_peak_memory()
    before = memory_mib()
    response = await post_upload(gateway.base_url + CHAT, upload, headers)
    assert response.status == 413
    assert response.body["error"]["code"] == "request_too_large"
    assert upload.sent < 64 * MIB, f"the client had to send {upload.sent // MIB} MiB"
    assert peak_memory_mib() - before < 96, "at most about the limit is held"

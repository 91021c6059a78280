"""Vertex AI through the official SDK: Gemini's wire format with service-account OAuth tokens."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.providers import google_tokens
from tests.conftest import add_funded_user, gateway_settings, serve
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.openai_upstream import FakeOpenAIUpstream

REPLY = "This is a fake reply."
HI = [{"role": "user", "content": "say hi please"}]
PRICES = {"input_price_per_mtok": "1", "output_price_per_mtok": "2"}
VERTEX_PATH = "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-fake"


@pytest.fixture
async def oauth() -> AsyncIterator[FakeGoogleOAuth]:
    async with FakeGoogleOAuth() as fake:
        yield fake


@pytest.fixture
async def gemini(oauth: FakeGoogleOAuth) -> AsyncIterator[FakeGeminiUpstream]:
    async with FakeGeminiUpstream(reply=REPLY) as fake:
        fake.bearer_tokens = oauth.valid_tokens
        yield fake


async def start(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    gemini: FakeGeminiUpstream,
    key_file: Path,
) -> AsyncIterator[tuple[openai.AsyncOpenAI, Any]]:
    """A gateway with `vertex` (key file configured) and `vertex-off` (no key file)."""
    _, key = await add_funded_user(engine, "dev@example.com", "10")
    row = {
        "protocol": "gemini",
        "auth": "google",
        "base_url": gemini.base_url
        + "/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_LOCATION}/publishers/google",
        "models_path": None,
        "models": [{"id": "gemini-fake", **PRICES}],
    }
    settings = gateway_settings(
        database_url,
        upstream,
        providers=[
            {"name": "vertex", "credentials_file_env": "GOOGLE_APPLICATION_CREDENTIALS", **row},
            {"name": "vertex-off", "credentials_file_env": "OTHER_CREDENTIALS", **row},
        ],
        routing={"max_attempts": 1},
        environ={
            "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
            "VERTEX_PROJECT": "proj-1",
            "VERTEX_LOCATION": "us-central1",
        },
    )
    async with serve(settings) as (base_url, state):
        yield openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0), state


async def test_chat_and_stream_carry_one_cached_bearer_token(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    gemini: FakeGeminiUpstream,
    oauth: FakeGoogleOAuth,
    tmp_path: Path,
) -> None:
    async for client, _ in start(database_url, engine, upstream, gemini, oauth.key_file(tmp_path)):
        calls = [
            client.chat.completions.create(model="vertex/gemini-fake", messages=HI)
            for _ in range(5)
        ]
        replies = await asyncio.gather(*calls)
        assert [r.choices[0].message.content for r in replies] == [REPLY] * 5
        assert replies[0].usage is not None and replies[0].usage.prompt_tokens == 3
        stream = await client.chat.completions.create(
            model="vertex/gemini-fake", messages=HI, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == REPLY
        assert len(oauth.grants) == 1  # five concurrent calls and a stream share one token
        assert oauth.grants[0]["scope"] == "https://www.googleapis.com/auth/cloud-platform"
        sent = gemini.requests
        assert [r.path for r in sent] == [f"{VERTEX_PATH}:generateContent"] * 5 + [
            f"{VERTEX_PATH}:streamGenerateContent"
        ]
        assert sent[-1].query == {"alt": "sse"}
        assert {r.headers["authorization"] for r in sent} == {"Bearer ya29.fake-1"}
        assert not any("x-goog-api-key" in r.headers for r in sent)


async def test_an_expired_token_is_replaced(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    gemini: FakeGeminiUpstream,
    oauth: FakeGoogleOAuth,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async for client, _ in start(database_url, engine, upstream, gemini, oauth.key_file(tmp_path)):
        for _ in range(2):
            await client.chat.completions.create(model="vertex/gemini-fake", messages=HI)
        assert len(oauth.grants) == 1
        # The fake's tokens last 3599 s and are replaced 300 s early.
        monkeypatch.setattr(google_tokens, "_monotonic", lambda: time.monotonic() + 3300)
        for _ in range(2):
            await client.chat.completions.create(model="vertex/gemini-fake", messages=HI)
        assert len(oauth.grants) == 2
        tokens = [r.headers["authorization"] for r in gemini.requests]
        assert tokens == ["Bearer ya29.fake-1"] * 2 + ["Bearer ya29.fake-2"] * 2


async def test_a_refused_grant_is_an_upstream_auth_error(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    gemini: FakeGeminiUpstream,
    oauth: FakeGoogleOAuth,
    tmp_path: Path,
) -> None:
    oauth.refuse = True
    async for client, _ in start(database_url, engine, upstream, gemini, oauth.key_file(tmp_path)):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="vertex/gemini-fake", messages=HI)
        assert caught.value.status_code == 502
        assert caught.value.code == "upstream_auth_failed"
        assert "service-account credentials" in caught.value.message
        assert gemini.requests == []


async def test_a_row_without_a_key_file_is_not_enabled(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    gemini: FakeGeminiUpstream,
    oauth: FakeGoogleOAuth,
    tmp_path: Path,
) -> None:
    async for client, _ in start(database_url, engine, upstream, gemini, oauth.key_file(tmp_path)):
        listed = {model.id async for model in client.models.list()}
        assert "vertex/gemini-fake" in listed
        assert not any(model.startswith("vertex-off/") for model in listed)
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="vertex-off/gemini-fake", messages=HI)
        assert oauth.grants == [] and gemini.requests == []

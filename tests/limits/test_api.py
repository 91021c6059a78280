"""Rate limits as a client meets them: 429s in the called API's format, headers on every call,
tokens counted from real usage, concurrency, client addresses, plans and overrides."""

import asyncio
import contextlib
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.app_services import Services
from gatewayz.limits import overrides
from tests.conftest import REDIS_URL, add_funded_user, require_service, serve
from tests.e2e.conftest import e2e_settings
from tests.fakes.openai_upstream import FakeOpenAIUpstream

HI = [{"role": "user", "content": "say hi please"}]  # 3 prompt tokens; the reply has 5
USED = 8
SLOW = ("fake-slow-300", "fake-slow-500")
DURATION = re.compile(r"\d+ms|(\d+m)?\d+(\.\d+)?s")
_emails = itertools.count(1)


@dataclass
class Limited:
    """A gateway with rate limits, and one funded user's key."""

    base_url: str
    state: Services
    engine: AsyncEngine
    user_id: int
    key: str

    def openai(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.base_url}/v1", api_key=self.key, max_retries=0)

    def http(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=20)

    async def chat(self, model: str = "fake-model", **body: Any) -> httpx.Response:
        async with self.http() as http:
            return await http.post(
                "/v1/chat/completions", json={"model": model, "messages": HI, **body}
            )


@contextlib.asynccontextmanager
async def limited(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    limits: dict[str, Any],
    credits: str = "10",
    **settings: Any,
) -> AsyncIterator[Limited]:
    user_id, key = await add_funded_user(engine, f"limited{next(_emails)}@example.com", credits)
    gateway = e2e_settings(database_url, upstream, SLOW, limits=limits, **settings)
    async with serve(gateway) as (base_url, state):
        yield Limited(base_url, state, engine, user_id, key)


async def test_a_limited_chat_call_gets_an_openai_429_with_retry_after(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with limited(database_url, engine, upstream, {"key": {"rpm": 2}}) as gw:
        client = gw.openai()
        for _ in range(2):
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
    response = refused.value.response
    assert response.status_code == 429
    assert 25 <= int(response.headers["retry-after"]) <= 30  # one request back every 30 s
    assert 29_000 < int(response.headers["retry-after-ms"]) <= 30_000
    assert response.headers["x-ratelimit-limit-requests"] == "2"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    error = response.json()["error"]
    assert error["message"].startswith(
        "Rate limit reached: 2 requests per minute for this API key. Try again in 2"
    )
    assert (error["type"], error["code"], error["param"]) == (
        "rate_limit_error",
        "rate_limit_exceeded",
        None,
    )


async def test_a_limited_messages_call_gets_an_anthropic_429(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with limited(database_url, engine, upstream, {"user": {"rpd": 1}}) as gw:
        claude = anthropic.AsyncAnthropic(base_url=gw.base_url, api_key=gw.key, max_retries=0)
        await claude.messages.create(model="fake-model", max_tokens=50, messages=HI)  # type: ignore[arg-type]
        with pytest.raises(anthropic.RateLimitError) as refused:
            await claude.messages.create(model="fake-model", max_tokens=50, messages=HI)  # type: ignore[arg-type]
    response = refused.value.response
    body = response.json()
    assert response.status_code == 429
    assert body["type"] == "error"
    assert body["error"]["type"] == "rate_limit_error"
    assert body["error"]["message"].startswith(
        "Rate limit reached: 1 requests per day for this user"
    )
    assert body["request_id"] == response.headers["request-id"]
    assert int(response.headers["retry-after"]) > 86_000  # a day's single request comes back
    assert response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_every_call_carries_the_rate_headers_unary_and_streamed(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    limits = {"user": {"rpm": 10, "tpm": 100_000}}
    async with limited(database_url, engine, upstream, limits) as gw:
        unary = await gw.chat(max_tokens=1000)
        async with (
            gw.http() as http,
            http.stream(
                "POST",
                "/v1/chat/completions",
                json={"model": "fake-model", "messages": HI, "stream": True, "max_tokens": 1000},
            ) as streamed,
        ):
            chunks = [line async for line in streamed.aiter_lines() if line.startswith("data:")]
    assert unary.status_code == streamed.status_code == 200
    assert chunks[-1] == "data: [DONE]"
    for response, remaining in ((unary, "9"), (streamed, "8")):
        headers = response.headers
        assert headers["x-ratelimit-limit-requests"] == "10"
        assert headers["x-ratelimit-remaining-requests"] == remaining
        assert DURATION.fullmatch(headers["x-ratelimit-reset-requests"])
        assert headers["x-ratelimit-limit-tokens"] == "100000"
        # the call's worst case is held: 1000 output tokens and the prompt at 4 bytes a token
        assert 98_900 < int(headers["x-ratelimit-remaining-tokens"]) < 99_000
        assert DURATION.fullmatch(headers["x-ratelimit-reset-tokens"])


async def test_tokens_are_reserved_from_the_worst_case_and_counted_from_real_usage(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with limited(database_url, engine, upstream, {"key": {"tpm": 5000}}) as gw:
        # two calls at once may each use 3000 tokens: the second does not fit
        together = await asyncio.gather(
            gw.chat("fake-slow-300", max_tokens=3000), gw.chat("fake-slow-300", max_tokens=3000)
        )
        # one after the other they fit: each really used 8 tokens, and only that stays counted
        first = await gw.chat(max_tokens=3000)
        second = await gw.chat(max_tokens=3000)
    assert sorted(r.status_code for r in together) == [200, 429]
    refused = next(r for r in together if r.status_code == 429)
    assert "5000 tokens per minute for this API key" in refused.json()["error"]["message"]
    assert first.status_code == second.status_code == 200
    worst = int(first.headers["x-ratelimit-limit-tokens"]) - int(
        first.headers["x-ratelimit-remaining-tokens"]
    )
    remaining = int(second.headers["x-ratelimit-remaining-tokens"])
    assert 5000 - worst - 3 * USED <= remaining <= 5000 - worst - USED + 50


async def test_concurrent_calls_beyond_the_limit_wait_for_a_slot(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with limited(database_url, engine, upstream, {"key": {"concurrency": 1}}) as gw:
        slow = asyncio.create_task(gw.chat("fake-slow-500"))
        await asyncio.sleep(0.2)
        during = await gw.chat()
        assert (await slow).status_code == 200
        after = await gw.chat(stream=True)
        after_stream = await gw.chat()
    assert during.status_code == 429
    assert during.headers["retry-after"] == "1"
    assert "1 calls at once for this API key" in during.json()["error"]["message"]
    assert after.status_code == after_stream.status_code == 200


async def test_errors_after_admission_carry_the_rate_headers(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with limited(database_url, engine, upstream, {"key": {"rpm": 5}}, credits="0") as gw:
        broke = await gw.chat()
    assert broke.status_code == 402
    assert broke.headers["x-ratelimit-limit-requests"] == "5"
    assert broke.headers["x-ratelimit-remaining-requests"] == "4"


async def test_public_endpoints_are_limited_per_client_address(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with (
        limited(database_url, engine, upstream, {"address": {"rpm": 2}}) as gw,
        httpx.AsyncClient(base_url=gw.base_url) as http,
    ):
        allowed = [await http.get("/v1/models"), await http.get("/v1/models/fake/fake-model")]
        refused = await http.get("/v1/providers")
        elsewhere = await http.get("/status", headers={"x-forwarded-for": "203.0.113.7"})
        unlimited = [await http.get("/health") for _ in range(5)]
        authenticated = await gw.chat()
    assert [r.status_code for r in allowed] == [200, 200]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in allowed] == ["1", "0"]
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "2 requests per minute from this address" in refused.json()["error"]["message"]
    assert 25 <= int(refused.headers["retry-after"]) <= 30
    assert refused.headers["x-request-id"]
    assert elsewhere.status_code == 200
    assert elsewhere.headers["x-ratelimit-remaining-requests"] == "1"
    assert {r.status_code for r in unlimited} == {200}
    assert "x-ratelimit-limit-requests" not in unlimited[0].headers
    assert authenticated.status_code == 200
    assert "x-ratelimit-limit-requests" not in authenticated.headers


async def test_limits_come_from_the_plan_then_from_overrides(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    limits = {
        "key": {"rpm": 50},
        "user": {"rpm": 100, "tpm": 9000},
        "plans": {"free": {"rpm": 3}},
        "default_plan": "free",
        "overrides_refresh_seconds": 0.05,
    }
    async with limited(database_url, engine, upstream, limits) as gw:
        on_plan = await gw.chat()
        (key,) = await accounts.list_keys(engine, gw.user_id)
        await overrides.store(engine, {"rpm": 1000}, user_id=gw.user_id)
        await overrides.store(engine, {"rpm": 7, "tpm": 20_000}, key_id=key.id)
        await asyncio.sleep(0.3)
        overridden = await gw.chat()
    assert on_plan.headers["x-ratelimit-limit-requests"] == "3"  # the plan's, over the user's
    assert on_plan.headers["x-ratelimit-limit-tokens"] == "9000"  # the user default the plan keeps
    assert overridden.headers["x-ratelimit-limit-requests"] == "7"  # the key's, now the tightest
    # the first call still counts: it drew 1/50 of a minute, a bit less than one 1/7
    assert overridden.headers["x-ratelimit-remaining-requests"] == "5"
    assert overridden.headers["x-ratelimit-limit-tokens"] == "9000"


async def test_ready_shows_where_limits_are_counted(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    limits = {"key": {"rpm": 10}, "redis_prefix": f"test:{uuid.uuid4().hex}"}
    async with (
        limited(database_url, engine, upstream, limits, redis_url=REDIS_URL) as gw,
        httpx.AsyncClient(base_url=gw.base_url) as http,
    ):
        ready = await http.get("/ready")
    assert ready.status_code == 200
    assert orjson.loads(ready.content)["rate_limits"] == {"backend": "redis", "redis": "ok"}

"""Failover through real fake upstreams: the client gets its answer from the next provider."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.store.tables import ledger
from tests.conftest import SECRET, add_funded_user, gateway_settings, serve, settle_now
from tests.fakes.openai_upstream import FakeOpenAIUpstream

PRICE = {"input_price_per_mtok": "2", "output_price_per_mtok": "8"}
# "say hi please" is 3 prompt words; the fake reply has 5 words.
ONE_CALL_UNITS = (3 * 2 + 5 * 8) * 1000


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def providers(upstream: FakeOpenAIUpstream, bad_model: str, **bad: Any) -> list[dict[str, Any]]:
    base = {"protocol": "openai", "base_url": upstream.base_url, "api_key": upstream.api_key}
    return [
        {"name": "bad", **base, **bad, "models": [{"id": bad_model, **PRICE}]},
        {"name": "good", **base, "models": [{"id": "fake-model", **PRICE}]},
    ]


async def start(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    bad_model: str,
    routing: dict[str, Any] | None = None,
    **bad: Any,
) -> AsyncIterator[tuple[str, Any, str]]:
    _user_id, key = await add_funded_user(engine, "dev@example.com", "10")
    settings = gateway_settings(
        database_url,
        upstream,
        providers=providers(upstream, bad_model, **bad),
        routing={
            "models": {"mymodel": {"candidates": [f"bad/{bad_model}", "good/fake-model"]}},
            "backoff_base_seconds": 0.01,
            **(routing or {}),
        },
    )
    async with serve(settings) as (base_url, state):
        yield base_url, state, key


def client(base_url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0)


HI = [{"role": "user", "content": "say hi please"}]


async def ledger_sum(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return sum(row[0] for row in await conn.execute(select(ledger.c.amount_units)))


@pytest.mark.parametrize(
    ("bad_model", "bad_options"),
    [
        ("fake-error-500", {}),
        ("fake-error-503", {}),
        ("fake-error-429", {}),
        ("fake-model", {"base_url": f"http://127.0.0.1:{_closed_port()}/v1"}),
        ("fake-model", {"api_key": "sk-wrong"}),
        ("fake-slow-3000", {"timeout_seconds": 0.3}),
    ],
    ids=["500", "503", "429", "refused", "bad-credentials", "hang"],
)
async def test_non_streamed_call_is_served_by_the_next_provider(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    bad_model: str,
    bad_options: dict[str, Any],
) -> None:
    async for base_url, state, key in start(
        database_url, engine, upstream, bad_model, **bad_options
    ):
        started = time.monotonic()
        raw = await client(base_url, key).chat.completions.with_raw_response.create(
            model="mymodel", messages=HI
        )
        answer = raw.parse()
        assert answer.choices[0].message.content == "This is a fake reply."
        assert raw.headers["x-gatewayz-provider"] == "good"
        assert raw.headers["x-gatewayz-attempts"] == "2"
        assert time.monotonic() - started < 2.5  # a Retry-After of 1 s is not waited for
        await settle_now(state)
        assert await ledger_sum(engine) == 10 * 10**9 - ONE_CALL_UNITS


@pytest.mark.parametrize(
    ("bad_model", "bad_options"),
    [
        ("fake-error-502", {}),
        ("fake-garbage", {}),
        ("fake-slow-3000", {"first_byte_timeout_seconds": 0.3}),
    ],
    ids=["502", "garbage-first-event", "no-first-byte"],
)
async def test_stream_fails_over_before_the_first_byte(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    bad_model: str,
    bad_options: dict[str, Any],
) -> None:
    async for base_url, state, key in start(
        database_url, engine, upstream, bad_model, **bad_options
    ):
        raw = await client(base_url, key).chat.completions.with_raw_response.create(
            model="mymodel", messages=HI, stream=True
        )
        assert raw.headers["x-gatewayz-provider"] == "good"
        text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
        assert text == "This is a fake reply."
        await settle_now(state)
        assert await ledger_sum(engine) == 10 * 10**9 - ONE_CALL_UNITS


async def test_a_request_error_is_not_failed_over(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async for base_url, _state, key in start(database_url, engine, upstream, "fake-error-400"):
        with pytest.raises(openai.BadRequestError):
            await client(base_url, key).chat.completions.create(model="mymodel", messages=HI)
        assert [r.json["model"] for r in upstream.requests] == ["fake-error-400"]


async def test_breaker_opens_skips_the_provider_and_health_shows_it(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    routing = {"breaker_failures": 2, "breaker_cooldown_seconds": 0.5}
    async for base_url, _state, key in start(
        database_url, engine, upstream, "fake-error-500", routing
    ):
        gateway = client(base_url, key)
        for _ in range(2):
            await gateway.chat.completions.create(model="mymodel", messages=HI)
        bad_calls = sum(r.json["model"] == "fake-error-500" for r in upstream.requests)
        raw = await gateway.chat.completions.with_raw_response.create(model="mymodel", messages=HI)
        assert raw.headers["x-gatewayz-attempts"] == "1"
        assert sum(r.json["model"] == "fake-error-500" for r in upstream.requests) == bad_calls

        admin = await accounts.create_user(engine, "ops@example.com", role="admin")
        admin_key = await accounts.create_key(engine, SECRET.encode(), admin.id, "ops")
        async with httpx.AsyncClient(base_url=base_url) as http:
            health = (
                await http.get(
                    "/api/monitoring/health/bad", headers={"Authorization": f"Bearer {admin_key}"}
                )
            ).json()
            assert health["circuits"] == {"fake-error-500": "open"}
            assert health["state"] == "down"
            assert health["error_rate"] == 1.0
            assert "status 500" in health["last_error"]
            listing = await http.get(
                "/api/monitoring/health", headers={"Authorization": f"Bearer {admin_key}"}
            )
            assert {p["provider"] for p in listing.json()["providers"]} == {"bad", "good"}
            denied = await http.get(
                "/api/monitoring/health", headers={"Authorization": f"Bearer {key}"}
            )
            assert denied.status_code == 403
            status = (await http.get("/status")).json()
            assert status == {"status": "degraded", "providers": {"bad": "down", "good": "healthy"}}

            await asyncio.sleep(0.6)  # cooldown over: one half-open probe goes to `bad` again
            await gateway.chat.completions.create(model="mymodel", messages=HI)
            assert (
                sum(r.json["model"] == "fake-error-500" for r in upstream.requests) == bad_calls + 1
            )
            health = (
                await http.get(
                    "/api/monitoring/health/bad", headers={"Authorization": f"Bearer {admin_key}"}
                )
            ).json()
            assert health["circuits"] == {"fake-error-500": "open"}


async def test_request_routing_options(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async for base_url, _state, key in start(database_url, engine, upstream, "fake-error-500"):
        gateway = client(base_url, key)
        with pytest.raises(openai.InternalServerError) as caught:
            await gateway.chat.completions.create(
                model="mymodel", messages=HI, extra_body={"provider": {"allow_fallbacks": False}}
            )
        assert "bad" in caught.value.message
        raw = await gateway.chat.completions.with_raw_response.create(
            model="bad/fake-error-500", messages=HI, extra_body={"models": ["good/fake-model"]}
        )
        assert raw.headers["x-gatewayz-provider"] == "good"
        sent = upstream.requests[-1].json
        assert "models" not in sent and "provider" not in sent

"""GET /metrics after real calls through a gateway: counts, latencies, tokens, cost, errors,
circuits, rate limits and the database pool, with their labels."""

import asyncio
import random

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from tests.conftest import SECRET, Gateway, add_funded_user, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "say hi please"}]  # 3 prompt tokens, 5 answer tokens
HI_COST_UNITS = 3 * 2_000 + 5 * 8_000


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scraped[(name, frozenset(labels.items()))]


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def test_metrics_count_calls_latencies_tokens_cost_and_upstream_errors(
    gateway: Gateway,
) -> None:
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers, timeout=20) as client:
        for _ in range(2):
            answer = await client.post(CHAT, json={"model": "fake/fake-model", "messages": HI})
            assert answer.status_code == 200
        stream = {
            "model": "fake/fake-model",
            "messages": HI,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        async with client.stream("POST", CHAT, json=stream) as streamed:
            assert streamed.status_code == 200
            await streamed.aread()
        failed = await client.post(CHAT, json={"model": "fake/fake-error-500", "messages": HI})
        assert failed.status_code == 502
        attempts = int(failed.headers["x-gatewayz-attempts"])
        missing = await client.post(CHAT, json={"model": "nope/none", "messages": HI})
        assert missing.status_code == 404
        scraped = await scrape(client)

    ok = {"route": CHAT, "model": "fake/fake-model", "provider": "fake"}
    assert value(scraped, "gatewayz_requests_total", **ok, status="200") == 3
    assert (
        value(
            scraped,
            "gatewayz_requests_total",
            route=CHAT,
            model="fake/fake-error-500",
            provider="fake",
            status="502",
        )
        == 1
    )
    assert (
        value(scraped, "gatewayz_requests_total", route=CHAT, model="", provider="", status="404")
        == 1
    )
    assert value(scraped, "gatewayz_request_duration_seconds_count", **ok) == 3
    assert value(scraped, "gatewayz_request_duration_seconds_sum", **ok) > 0
    assert (
        value(
            scraped,
            "gatewayz_time_to_first_token_seconds_count",
            model="fake/fake-model",
            provider="fake",
        )
        == 1
    ), "only the stream has a first token"
    assert value(scraped, "gatewayz_gateway_overhead_seconds_count", route=CHAT) == 4
    overhead = value(scraped, "gatewayz_gateway_overhead_seconds_sum", route=CHAT)
    total = sum(
        v
        for (name, labels), v in scraped.items()
        if name == "gatewayz_request_duration_seconds_sum" and ("route", CHAT) in labels
    )
    assert 0 < overhead < total, "overhead excludes the time spent waiting on the upstream"
    tokens = {"model": "fake/fake-model", "provider": "fake"}
    assert value(scraped, "gatewayz_tokens_total", **tokens, direction="input") == 9
    assert value(scraped, "gatewayz_tokens_total", **tokens, direction="output") == 15
    assert value(scraped, "gatewayz_cost_credits_total", **tokens) == pytest.approx(
        3 * HI_COST_UNITS / 10**9
    )
    assert (
        value(scraped, "gatewayz_upstream_errors_total", provider="fake", kind="error") == attempts
    )
    assert value(scraped, "gatewayz_circuit_state", provider="fake", model="fake-model") == 0
    assert value(scraped, "gatewayz_db_pool_size") >= 1
    assert value(scraped, "gatewayz_db_pool_connections_in_use") >= 0


async def test_an_open_circuit_and_rate_limit_refusals_show_in_the_metrics(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    _, key = await add_funded_user(engine, "limited@example.com", "10")
    settings = gateway_settings(
        database_url,
        upstream,
        routing={"max_attempts": 1, "breaker_failures": 1},
        limits={"key": {"rpm": 2}},
    )
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        serve(settings) as (base_url, _),
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=20) as client,
    ):
        failed = await client.post(CHAT, json={"model": "fake/fake-error-500", "messages": HI})
        assert failed.status_code == 502
        ok = await client.post(CHAT, json={"model": "fake/fake-model", "messages": HI})
        assert ok.status_code == 200
        refused = await client.post(CHAT, json={"model": "fake/fake-model", "messages": HI})
        assert refused.status_code == 429
        scraped = await scrape(client)

    assert value(scraped, "gatewayz_circuit_state", provider="fake", model="fake-error-500") == 2
    assert value(scraped, "gatewayz_circuit_state", provider="fake", model="fake-model") == 0
    assert value(scraped, "gatewayz_rate_limited_total", scope="key") == 1
    assert (
        value(
            scraped,
            "gatewayz_requests_total",
            route=CHAT,
            model="fake/fake-model",
            provider="",
            status="429",
        )
        == 1
    )


async def test_rate_limit_refusals_are_counted_by_whose_limit_refused(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    user_id, first_key = await add_funded_user(engine, "two-keys@example.com", "10")
    second_key = await accounts.create_key(engine, SECRET.encode(), user_id, "second")
    settings = gateway_settings(
        database_url,
        upstream,
        limits={"key": {"rpm": 2}, "user": {"rpm": 3}, "address": {"rpm": 1}},
    )
    call = {"model": "fake/fake-model", "messages": HI}
    async with (
        serve(settings) as (base_url, _),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        first = {"Authorization": f"Bearer {first_key}"}
        second = {"Authorization": f"Bearer {second_key}"}
        statuses = [(await client.post(CHAT, json=call, headers=first)).status_code for _ in "abc"]
        assert statuses == [200, 200, 429], "the key's 2 a minute"
        assert (await client.post(CHAT, json=call, headers=second)).status_code == 200
        by_user = await client.post(CHAT, json=call, headers=second)
        assert by_user.status_code == 429, "the user's 3 a minute, over both keys"
        assert "for this user" in by_user.json()["error"]["message"]
        assert (await client.get("/v1/models")).status_code == 200
        assert (await client.get("/v1/models")).status_code == 429
        scraped = await scrape(client)

    assert value(scraped, "gatewayz_rate_limited_total", scope="key") == 1
    assert value(scraped, "gatewayz_rate_limited_total", scope="user") == 1
    assert value(scraped, "gatewayz_rate_limited_total", scope="address") == 1
    scopes = {
        dict(labels)["scope"] for name, labels in scraped if name == "gatewayz_rate_limited_total"
    }
    assert scopes == {"key", "user", "address"}


def series(text: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """Every time series of the exposition (name and labels), values aside."""
    return set(samples(text))


async def test_model_names_the_catalog_does_not_know_add_no_series(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    """Labels take catalog values only: a flood of made-up model names from a key without
    credits (each call refused with 402) leaves /metrics as it was."""
    _, key = await add_funded_user(engine, "broke@example.com", "0")
    headers = {"Authorization": f"Bearer {key}"}
    rng = random.Random(7)

    def made_up(i: int) -> str:
        kinds = (
            f"nope-{rng.getrandbits(64):x}",  # unknown, served through the fallback
            "".join(c.upper() if rng.random() < 0.5 else c for c in "fake-model"),  # canonical
            f"fake-model:{rng.getrandbits(32):x}",
        )
        return kinds[i % len(kinds)]

    async with (
        serve(gateway_settings(database_url, upstream)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=20) as client,
    ):

        async def refused(model: str) -> None:
            body = {"model": model, "models": ["fake-model"], "messages": HI}
            answer = await client.post(CHAT, json=body)
            assert answer.status_code == 402, answer.text

        for i in range(3):  # each kind once, so that its series exist (and /metrics' own)
            await refused(made_up(i))
        await client.get("/metrics")
        before = (await client.get("/metrics")).text
        for start in range(0, 1000, 50):
            await asyncio.gather(*(refused(made_up(i)) for i in range(start, start + 50)))
        after = (await client.get("/metrics")).text

    assert series(after) == series(before)
    labels = {
        dict(labels)["model"]
        for name, labels in series(after)
        if name == "gatewayz_requests_total" and dict(labels)["status"] == "402"
    }
    assert "other" in labels and labels <= {"other", "fake-model"}, labels

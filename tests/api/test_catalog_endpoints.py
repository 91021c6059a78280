"""The public catalog endpoints, on a gateway served over HTTP (SQLite and PostgreSQL)."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.providers.catalog_store import save_snapshot
from gatewayz.providers.listing import ListedModel
from gatewayz.settings import Settings
from gatewayz.telemetry import request_log
from tests.conftest import SECRET, serve
from tests.fakes.model_list_upstream import FakeModel, FakeModelListUpstream


def _settings(database_url: str, providers: list[dict[str, Any]], **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret": SECRET,
        "auto_migrate": False,
        "demo_provider": False,
        "environ": {},
        "providers": providers,
        **extra,
    }
    return Settings(**values)


async def _eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("timed out waiting for the catalog")
        await asyncio.sleep(0.05)


async def _provider_row(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    rows = (await http.get("/v1/providers")).json()["data"]
    return next(row for row in rows if row["id"] == name)


def _models(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {model["id"]: model for model in body["data"]}


async def test_fetched_lists_are_listed_with_prices_and_providers_report_their_sync(
    database_url: str,
) -> None:
    async with (
        FakeModelListUpstream() as fake,
        serve(_settings(database_url, [fake.provider_row("or")])) as (base_url, state),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        synced = await _eventually(
            lambda: _until(http, "or", lambda row: row["status"] == "ok" and row)
        )
        models = _models((await http.get("/v1/models")).json())
        filtered = (await http.get("/v1/models", params={"modality": "image"})).json()
        by_provider = (await http.get("/v1/models", params={"provider": "or"})).json()
        providers = {row["id"]: row for row in (await http.get("/v1/providers")).json()["data"]}
        summary = (await http.get("/v1/gateways/summary")).json()
        routes = state.catalog.candidates("gpt-4o-mini")
    mini = models["or/openai/gpt-4o-mini"]
    assert mini["object"] == "model" and mini["owned_by"] == "or"
    assert mini["pricing"] == {"input_per_mtok": "0.15", "output_per_mtok": "0.6"}
    assert mini["callable"] is True and mini["canonical_id"] == "gpt-4o-mini"
    assert mini["provider_model_id"] == "openai/gpt-4o-mini"
    assert (mini["context_length"], mini["supports_tools"], mini["supports_vision"]) == (
        128000,
        True,
        True,
    )
    assert mini["input_modalities"] == ["text", "image", "file"]
    auto = models["or/openrouter/auto"]
    assert (auto["pricing"], auto["callable"]) == (None, False)
    assert list(_models(filtered)) == ["or/openai/gpt-4o-mini"]
    assert len(by_provider["data"]) == 4
    assert [r.public_id for r in routes] == ["or/openai/gpt-4o-mini"]
    assert synced["models"] == 4 and synced["callable_models"] == 3
    assert synced["source"] == "fetched" and synced["error"] is None
    assert datetime.fromisoformat(synced["last_sync_at"]) <= datetime.now(UTC)
    assert providers["openai"]["enabled"] is False and providers["openai"]["status"] == "disabled"
    assert providers["anthropic"]["protocol"] == "anthropic"
    assert summary["object"] == "gateway.summary"
    assert summary["providers"]["enabled"] == 1
    assert summary["providers"]["total"] == len(providers)
    assert summary["providers"]["ok"] == 1
    assert summary["models"]["listed"] == 4 and summary["models"]["callable"] == 3
    assert summary["last_sync_at"] == synced["last_sync_at"]


async def _until(http: httpx.AsyncClient, name: str, check: Callable[[dict[str, Any]], Any]) -> Any:
    return check(await _provider_row(http, name))


async def test_a_provider_down_at_start_is_served_from_the_stored_catalog(
    database_url: str,
) -> None:
    async with FakeModelListUpstream() as fake:
        row = fake.provider_row("or")
        async with (
            serve(_settings(database_url, [row])) as (base_url, _),
            httpx.AsyncClient(base_url=base_url) as http,
        ):
            first = await _eventually(lambda: _until(http, "or", lambda r: r["last_sync_at"]))
            before = _models((await http.get("/v1/models")).json())
    # The provider is down now; the gateway restarts, its stored list already past the TTL.
    async with (
        serve(_settings(database_url, [row], catalog_ttl_seconds=0.1)) as (base_url, state),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        after = _models((await http.get("/v1/models")).json())
        failed = await _eventually(lambda: _until(http, "or", lambda r: r["error"] and r))
        still = _models((await http.get("/v1/models")).json())
        routes = state.catalog.candidates("or/openai/gpt-4o-mini")
    assert after == before and still == before
    assert after["or/openai/gpt-4o-mini"]["pricing"]["input_per_mtok"] == "0.15"
    assert failed["status"] == "error" and failed["source"] == "stored"
    assert "unreachable" in failed["error"]
    assert failed["last_sync_at"] == first
    assert routes[0].model.input_price_per_mtok == Decimal("0.15")


async def test_a_ttl_refresh_picks_up_a_changed_list(database_url: str) -> None:
    async with FakeModelListUpstream(models=[FakeModel("a/one", "One")]) as fake:
        settings = _settings(database_url, [fake.provider_row("or")], catalog_ttl_seconds=0.3)
        async with (
            serve(settings) as (base_url, _),
            httpx.AsyncClient(base_url=base_url) as http,
        ):

            async def listed() -> dict[str, Any]:
                return _models((await http.get("/v1/models")).json())

            await _eventually(lambda: _has(listed, "or/a/one"))
            fake.models = [FakeModel("a/one", "One", "5", "6"), FakeModel("b/two", "Two")]
            models = await _eventually(lambda: _has(listed, "or/b/two"))
    assert models["or/a/one"]["pricing"] == {"input_per_mtok": "5", "output_per_mtok": "6"}
    assert fake.list_requests >= 2


async def _has(listed: Callable[[], Any], model_id: str) -> Any:
    models = await listed()
    return models if model_id in models else None


SEEDED = (
    ListedModel(
        id="meta-llama/Meta-Llama-3.1-8B-Instruct",
        name="Llama 3.1 8B Instruct",
        context_length=131072,
        input_price_per_mtok=Decimal("0.02"),
        output_price_per_mtok=Decimal("0.03"),
        supports_tools=True,
    ),
    ListedModel(
        id="openai/gpt-4o-mini",
        name="GPT-4o mini",
        context_length=128000,
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
        input_modalities=("text", "image"),
        supports_tools=True,
    ),
    ListedModel(
        id="tiny/tiny-chat",
        name="Tiny Chat",
        context_length=8192,
        input_price_per_mtok=Decimal("0.01"),
        output_price_per_mtok=Decimal("0.01"),
        supports_tools=False,
    ),
    ListedModel(id="huge/unpriced", name="Huge", context_length=1_000_000),
    ListedModel(
        id="embed/small",
        type="embeddings",
        input_price_per_mtok=Decimal("0.04"),
        context_length=512,
    ),
)


async def _seeded(database_url: str, engine: AsyncEngine) -> Settings:
    """A gateway whose provider `seed` is unreachable but has a stored list (no refresh)."""
    await save_snapshot(engine, "seed", SEEDED, datetime.now(UTC))
    row = {
        "name": "seed",
        "protocol": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "auth": "none",
    }
    return _settings(database_url, [row], catalog_refresh=False)


async def test_search_filters(database_url: str, engine: AsyncEngine) -> None:
    async with (
        serve(await _seeded(database_url, engine)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url) as http,
    ):

        async def found(**params: Any) -> list[str]:
            response = await http.get("/v1/models/search", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["total"] == len(body["data"])
            return [model["id"].removeprefix("seed/") for model in body["data"]]

        assert await found(q="llama") == ["meta-llama/Meta-Llama-3.1-8B-Instruct"]
        assert await found(q="GPT 4o MINI") == ["openai/gpt-4o-mini"]
        assert await found(min_context=100000) == [
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "openai/gpt-4o-mini",
            "huge/unpriced",
        ]
        assert await found(max_price="0.1") == [
            "tiny/tiny-chat",
            "embed/small",
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
        ]
        assert await found(modality="image") == ["openai/gpt-4o-mini"]
        assert await found(modality="embeddings") == ["embed/small"]
        assert await found(supports_tools="true") == [
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "openai/gpt-4o-mini",
        ]
        assert "tiny/tiny-chat" in await found(supports_tools="false")
        assert await found(min_context=100000, max_price="1", supports_tools="true") == [
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "openai/gpt-4o-mini",
        ]
        assert await found(q="llama", modality="image") == []
        assert await found(q="llama-3.1-8b-instruct") == ["meta-llama/Meta-Llama-3.1-8B-Instruct"]
        bad = await http.get("/v1/models/search", params={"min_context": 0})
        worse = await http.get("/v1/models/search", params={"max_price": "cheap"})
    for response in (bad, worse):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"


async def test_one_model_by_public_or_canonical_id(database_url: str, engine: AsyncEngine) -> None:
    async with (
        serve(await _seeded(database_url, engine)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        one = await http.get("/v1/models/seed/openai/gpt-4o-mini")
        canonical = await http.get("/v1/models/llama-3.1-8b-instruct")
        missing = await http.get("/v1/models/seed/nope")
        client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="not-needed")
        listed = [model.id async for model in client.models.list()]
        retrieved = await client.models.retrieve("seed/tiny/tiny-chat")
    assert one.status_code == 200 and one.json()["id"] == "seed/openai/gpt-4o-mini"
    assert one.json()["pricing"] == {"input_per_mtok": "0.15", "output_per_mtok": "0.60"}
    body = canonical.json()
    assert body["id"] == "llama-3.1-8b-instruct" and body["callable"] is True
    assert [p["id"] for p in body["providers"]] == ["seed/meta-llama/Meta-Llama-3.1-8B-Instruct"]
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "model"
    assert len(listed) == len(SEEDED)
    assert retrieved.id == "seed/tiny/tiny-chat" and retrieved.owned_by == "seed"


def _log(model: str, provider: str, latency: int, *, age_hours: float = 0.1, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "request_id": "req",
        "user_id": 1,
        "key_id": 1,
        "api": "chat",
        "model": model,
        "provider": provider,
        "provider_model": model,
        "stream": False,
        "status_code": 200,
        "error": None,
        "input_tokens": 10,
        "output_tokens": 10,
        "usage_estimated": False,
        "cost_units": 1,
        "latency_ms": latency,
        "ttft_ms": None,
        "created_at": datetime.now(UTC) - timedelta(hours=age_hours),
        **extra,
    }
    return request_log.RequestLogRow(**values)


async def test_trending_and_low_latency_come_from_the_request_log_only(
    database_url: str, engine: AsyncEngine
) -> None:
    async with (
        serve(await _seeded(database_url, engine)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        empty = [
            (await http.get(path)).json()["data"]
            for path in ("/v1/models/trending", "/v1/models/low-latency")
        ]
        llama, mini, tiny = (
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "openai/gpt-4o-mini",
            "tiny/tiny-chat",
        )
        rows = [_log(llama, "seed", 400, ttft_ms=90, stream=True) for _ in range(4)]
        rows += [_log("llama-3.1-8b-instant", "groq", 100) for _ in range(2)]
        rows += [_log(mini, "seed", 100 + i, ttft_ms=20) for i in range(3)]
        rows += [_log(mini, "seed", 5000, status_code=502, error="upstream failed")]
        rows += [_log(tiny, "seed", 10, age_hours=48) for _ in range(9)]
        async with engine.begin() as conn:
            await request_log.write(conn, rows)
        trending = (await http.get("/v1/models/trending")).json()
        longer = (await http.get("/v1/models/trending", params={"hours": 72})).json()
        fastest = (await http.get("/v1/models/low-latency", params={"min_samples": 2})).json()
        strict = (await http.get("/v1/models/low-latency", params={"min_samples": 4})).json()
        ttft = (
            await http.get("/v1/models/low-latency", params={"min_samples": 3, "metric": "ttft"})
        ).json()
    assert empty == [[], []], "no traffic, nothing invented"
    assert [(m["id"], m["requests"]) for m in trending["data"]] == [
        ("llama-3.1-8b-instruct", 6),
        ("gpt-4o-mini", 4),
    ]
    assert {p["id"] for p in trending["data"][0]["providers"]} == {
        f"seed/{llama}",
        "groq/llama-3.1-8b-instant",
    }
    assert trending["data"][0]["name"] == "Llama 3.1 8B Instruct"
    assert longer["data"][0]["id"] == "tiny-chat" and longer["data"][0]["requests"] == 9
    assert [m["id"] for m in fastest["data"]] == [
        "groq/llama-3.1-8b-instant",
        f"seed/{mini}",
        f"seed/{llama}",
    ]
    assert fastest["data"][1]["avg_latency_ms"] == 101.0, "failed requests are not latency samples"
    assert fastest["data"][1]["canonical_id"] == "gpt-4o-mini"
    assert [m["id"] for m in strict["data"]] == [f"seed/{llama}"]
    assert [(m["id"], m["avg_ttft_ms"]) for m in ttft["data"]] == [
        (f"seed/{mini}", 20.0),
        (f"seed/{llama}", 90.0),
    ]


async def test_catalog_endpoints_need_no_api_key(database_url: str, engine: AsyncEngine) -> None:
    paths = [
        "/v1/models",
        "/v1/models/search?q=tiny",
        "/v1/models/trending",
        "/v1/models/low-latency",
        "/v1/models/seed/tiny/tiny-chat",
        "/v1/providers",
        "/v1/gateways/summary",
    ]
    async with (
        serve(await _seeded(database_url, engine)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        statuses = [(await http.get(path)).status_code for path in paths]
    assert statuses == [200] * len(paths)


async def test_a_min_samples_past_a_billion_is_refused_naming_it(
    database_url: str, engine: AsyncEngine
) -> None:
    async with (
        serve(await _seeded(database_url, engine)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        most = await http.get("/v1/models/low-latency", params={"min_samples": 10**9})
        huge = await http.get("/v1/models/low-latency", params={"min_samples": 10**30})
    assert most.status_code == 200, most.text
    assert most.json()["min_samples"] == 10**9
    assert huge.status_code == 400, huge.text
    assert huge.json()["error"]["param"] == "min_samples"

"""Catalog snapshots and refresh, on SQLite and PostgreSQL: a provider that is down at start
is served from its stored list, a TTL refresh picks up a changed list, a failure keeps the
last good list, a new list's routes that the provider's adapter cannot serve are logged."""

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.providers.adapters import builtin_adapters
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.catalog_refresh import CatalogRefresher
from gatewayz.providers.catalog_store import load_snapshots, save_snapshot, snapshot_times
from gatewayz.providers.listing import ListedModel
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import Provider, resolve
from tests.fakes.model_list_upstream import FakeModel, FakeModelListUpstream


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _provider(fake: FakeModelListUpstream, **extra: Any) -> Provider:
    provider = resolve(ProviderSpec(**fake.provider_row(**extra)), {})
    assert provider is not None
    return provider


def _ids(catalog: Catalog) -> dict[str, bool]:
    return {entry.public_id: entry.callable for entry in catalog.entries()}


async def test_snapshots_round_trip_exactly(engine: AsyncEngine) -> None:
    models = (
        ListedModel(
            id="meta-llama/llama-3.1-8b-instruct",
            name="Llama",
            context_length=131072,
            input_price_per_mtok=Decimal("0.015"),
            output_price_per_mtok=Decimal("0.0200"),
            input_modalities=("text", "image"),
            supports_tools=True,
        ),
        ListedModel(id="img", type="images", image_price=Decimal("0.04")),
        ListedModel(id="unpriced"),
    )
    fetched_at = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    await save_snapshot(engine, "p", models, fetched_at)
    (snapshot,) = (await load_snapshots(engine)).values()
    assert snapshot.models == models
    assert str(snapshot.models[0].output_price_per_mtok) == "0.0200"
    assert snapshot.fetched_at == fetched_at
    later = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    await save_snapshot(engine, "p", models[:1], later)
    assert (await load_snapshots(engine, ["p"]))["p"].models == models[:1]
    assert await snapshot_times(engine) == {"p": later}
    assert await load_snapshots(engine, ["other"]) == {}


async def test_a_provider_down_at_start_is_served_from_its_stored_list(
    engine: AsyncEngine, session: aiohttp.ClientSession
) -> None:
    async with FakeModelListUpstream() as fake:
        provider = _provider(fake)
        first = Catalog([provider])
        result = await CatalogRefresher(first, session, engine, 3600).refresh(provider)
        assert result.ok and result.models == 4
    # The provider is gone; a new gateway process starts.
    restarted = Catalog([provider])
    assert _ids(restarted) == {}
    refresher = CatalogRefresher(restarted, session, engine, 3600)
    assert await refresher.load_stored() == 1
    assert _ids(restarted) == _ids(first)
    assert restarted.listing(provider.name).source == "stored"
    (route,) = restarted.candidates("openai/gpt-4o-mini")
    assert route.model.input_price_per_mtok == Decimal("0.15")
    assert await refresher.refresh_due() == [], "the stored list is fresh: nothing to fetch"
    (failed,) = [await refresher.refresh(provider)]
    assert not failed.ok and "unreachable" in (failed.error or "")
    assert restarted.listing(provider.name).error == failed.error
    assert _ids(restarted) == _ids(first), "the last good list stays"


async def test_a_ttl_refresh_picks_up_a_changed_list(
    engine: AsyncEngine, session: aiohttp.ClientSession
) -> None:
    async with FakeModelListUpstream(models=[FakeModel("a/one", "One")]) as fake:
        provider = _provider(fake)
        catalog = Catalog([provider])
        refresher = CatalogRefresher(catalog, session, engine, ttl_seconds=0.3)
        assert [r.ok for r in await refresher.refresh_due()] == [True]
        assert await refresher.refresh_due() == []
        assert fake.list_requests == 1
        fake.models = [FakeModel("a/one", "One", "3", "4"), FakeModel("b/two", "Two")]
        await asyncio.sleep(0.35)
        assert [r.models for r in await refresher.refresh_due()] == [2]
    assert fake.list_requests == 2
    assert _ids(catalog) == {f"{provider.name}/a/one": True, f"{provider.name}/b/two": True}
    (route,) = catalog.candidates(f"{provider.name}/a/one")
    assert route.model.input_price_per_mtok == 3
    stored = (await load_snapshots(engine))[provider.name]
    assert [m.id for m in stored.models] == ["a/one", "b/two"]


async def test_a_failed_refresh_keeps_the_list_and_retries_before_the_ttl(
    engine: AsyncEngine, session: aiohttp.ClientSession
) -> None:
    async with FakeModelListUpstream() as fake:
        provider = _provider(fake)
        catalog = Catalog([provider])
        refresher = CatalogRefresher(catalog, session, engine, ttl_seconds=86400)
        await refresher.refresh(provider)
        fetched_at = catalog.listing(provider.name).fetched_at
        fake.status = 503
        result = await refresher.refresh(provider)
        assert not result.ok and result.models == 4 and "503" in (result.error or "")
        listing = catalog.listing(provider.name)
        assert listing.fetched_at == fetched_at and listing.error is not None
        retry_at = refresher.next_refresh(provider)
        assert retry_at is not None and listing.failed_at is not None
        assert (retry_at - listing.failed_at).total_seconds() == 300
        fake.status = 200
        assert (await refresher.refresh(provider)).ok
        assert catalog.listing(provider.name).error is None


async def test_each_provider_row_may_set_its_own_ttl(
    engine: AsyncEngine, session: aiohttp.ClientSession
) -> None:
    async with FakeModelListUpstream() as slow, FakeModelListUpstream() as fast:
        daily = _provider(slow, name="daily", catalog_ttl_seconds=86400)
        default = _provider(fast, name="default")
        refresher = CatalogRefresher(Catalog([daily, default]), session, engine, ttl_seconds=0.1)
        await refresher.refresh_due()
        await asyncio.sleep(0.15)
        assert [r.provider for r in await refresher.refresh_due()] == ["default"]
        assert (slow.list_requests, fast.list_requests) == (1, 2)


async def test_lists_stored_by_another_gateway_are_adopted_instead_of_fetched(
    engine: AsyncEngine, session: aiohttp.ClientSession
) -> None:
    async with FakeModelListUpstream() as fake:
        provider = _provider(fake)
        mine, theirs = Catalog([provider]), Catalog([provider])
        await CatalogRefresher(theirs, session, engine, 3600).refresh_due()
        assert await CatalogRefresher(mine, session, engine, 3600).refresh_due() == []
        assert fake.list_requests == 1
        assert _ids(mine) == _ids(theirs) and mine.listing(provider.name).source == "stored"


async def test_the_background_loop_refreshes_until_cancelled(
    engine: AsyncEngine, session: aiohttp.ClientSession
) -> None:
    async with FakeModelListUpstream() as fake:
        catalog = Catalog([_provider(fake)])
        task = asyncio.create_task(CatalogRefresher(catalog, session, engine, 0.1).run_forever())
        for _ in range(100):
            if fake.list_requests >= 3:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert fake.list_requests >= 3
    assert catalog.routes()


async def test_a_refresh_logs_the_new_routes_the_adapter_cannot_serve(
    engine: AsyncEngine, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    chat_only = {"openai": Adapter(chat=builtin_adapters(session, 1024)["openai"].chat)}
    listed = [FakeModel("a/chat", "Chat")]
    async with FakeModelListUpstream("together", listed) as fake:
        provider = _provider(fake)
        catalog = Catalog([provider])
        refresher = CatalogRefresher(catalog, session, engine, 3600, adapters=chat_only)
        caplog.set_level(logging.WARNING, "gatewayz.providers.capabilities")
        assert (await refresher.refresh(provider)).ok
        assert "does not serve" not in caplog.text
        fake.models = [*listed, FakeModel("e/embed", "Embed", "0.1", "0", type="embeddings")]
        assert (await refresher.refresh(provider)).ok
        assert _ids(catalog)[f"{provider.name}/e/embed"], "the route is in the catalog"
        unserved = [r.getMessage() for r in caplog.records if "does not serve" in r.getMessage()]
        assert unserved == [
            f"{provider.name} (openai protocol) does not serve embeddings models: "
            f"{provider.name}/e/embed is left out"
        ]
        caplog.clear()
        assert (await refresher.refresh(provider)).ok
        assert "does not serve" not in caplog.text, "a route already named is not named again"
        # Another gateway process adopting the stored list names it too.
        await CatalogRefresher(
            Catalog([provider]), session, engine, 3600, adapters=chat_only
        ).load_stored()
        assert f"{provider.name}/e/embed is left out" in caplog.text

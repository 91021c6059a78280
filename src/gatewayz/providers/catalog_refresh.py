"""Keeping the catalog fresh: stale-while-revalidate, one TTL per provider.

Requests always read the lists the catalog holds. In the background each provider's list is
fetched again once its TTL has passed; a failed fetch keeps the last good list, is logged,
and is retried sooner. Every good list is stored as a snapshot, and snapshots stored by
other gateway processes (or `gatewayz models sync`) are adopted when newer than ours. Routes a
new list adds that their provider's adapter cannot serve are logged, as at start-up (see
providers.capabilities.log_unserved).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.providers.capabilities import Adapter, log_unserved
from gatewayz.providers.catalog import Catalog, ListSource, Route
from gatewayz.providers.catalog_store import load_snapshots, save_snapshot, snapshot_times
from gatewayz.providers.listing import ListedModel
from gatewayz.providers.model_lists import ModelListError, fetch_model_list
from gatewayz.providers.table import Provider

log = logging.getLogger(__name__)

RETRY_SECONDS = 300.0
Fetch = Callable[[aiohttp.ClientSession, Provider], Awaitable[list[ListedModel]]]


@dataclass(frozen=True, slots=True)
class SyncResult:
    """How one provider's refresh went: the size of its list now, or why it failed."""

    provider: str
    ok: bool
    models: int
    error: str | None = None


def now_utc() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


async def fetch_and_store(
    session: aiohttp.ClientSession,
    engine: AsyncEngine,
    provider: Provider,
    fetch: Fetch = fetch_model_list,
) -> tuple[tuple[ListedModel, ...], datetime]:
    """Fetch the provider's list and store it; ModelListError when the fetch fails."""
    models = tuple(await fetch(session, provider))
    fetched_at = now_utc()
    try:
        await save_snapshot(engine, provider.name, models, fetched_at)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("could not store the model list of %s: %s", provider.name, type(exc).__name__)
    return models, fetched_at


async def sync_providers(
    session: aiohttp.ClientSession,
    engine: AsyncEngine,
    providers: Iterable[Provider],
    on_result: Callable[[SyncResult], None] = lambda result: None,
) -> list[SyncResult]:
    """Fetch and store every provider's list now, side by side (for `gatewayz models sync`)."""

    async def one(provider: Provider) -> SyncResult:
        try:
            models, _ = await fetch_and_store(session, engine, provider)
            result = SyncResult(provider.name, True, len(models))
        except ModelListError as exc:
            result = SyncResult(provider.name, False, 0, str(exc))
        on_result(result)
        return result

    return list(await asyncio.gather(*(one(p) for p in providers)))


class CatalogRefresher:
    """Refreshes the catalog's provider lists when their TTL is due, off the request path."""

    def __init__(
        self,
        catalog: Catalog,
        session: aiohttp.ClientSession,
        engine: AsyncEngine,
        ttl_seconds: float,
        fetch: Fetch = fetch_model_list,
        adapters: Mapping[str, Adapter] | None = None,
    ) -> None:
        """`adapters` (by wire protocol) are what the routes of new lists are checked
        against; without them nothing is checked."""
        self._catalog = catalog
        self._adapters = adapters
        self._session = session
        self._engine = engine
        self._ttl = ttl_seconds
        self._fetch = fetch
        self._targets = [p for p in catalog.providers.values() if p.spec.models_path is not None]
        self._retry_at: dict[str, datetime] = {}

    def ttl(self, provider: Provider) -> timedelta:
        """The provider's own TTL if its row sets one, else the gateway's."""
        return timedelta(seconds=provider.spec.catalog_ttl_seconds or self._ttl)

    def next_refresh(self, provider: Provider) -> datetime | None:
        """When the provider's list is due again; None if it has no list URL."""
        if provider.spec.models_path is None:
            return None
        if provider.name in self._retry_at:
            return self._retry_at[provider.name]
        fetched_at = self._catalog.listing(provider.name).fetched_at
        return fetched_at + self.ttl(provider) if fetched_at else datetime.min.replace(tzinfo=UTC)

    async def load_stored(self) -> int:
        """Adopt the stored lists (at start); how many providers had one."""
        return await self._adopt_stored(only_newer=False)

    async def refresh_due(self) -> list[SyncResult]:
        """Adopt newer stored lists, then fetch every list whose TTL has passed."""
        await self._adopt_stored(only_newer=True)
        now = now_utc()
        due = [p for p in self._targets if (self.next_refresh(p) or now) <= now]
        return list(await asyncio.gather(*(self.refresh(p) for p in due)))

    async def refresh(self, provider: Provider) -> SyncResult:
        """Fetch one provider's list now; on failure keep the last good list."""
        try:
            models, fetched_at = await fetch_and_store(
                self._session, self._engine, provider, self._fetch
            )
        except ModelListError as exc:
            failed_at = now_utc()
            self._catalog.mark_failed(provider.name, str(exc), failed_at)
            retry = min(self.ttl(provider), timedelta(seconds=RETRY_SECONDS))
            self._retry_at[provider.name] = failed_at + retry
            kept = len(self._catalog.provider_entries(provider.name))
            log.warning(
                "model list of %s not refreshed: %s; keeping the last good list (%d models)",
                provider.name,
                exc,
                kept,
            )
            return SyncResult(provider.name, False, kept, str(exc))
        self._retry_at.pop(provider.name, None)
        self._replace(provider.name, models, fetched_at, "fetched")
        return SyncResult(provider.name, True, len(models))

    async def run_forever(self) -> None:
        """Refresh due lists until cancelled, sleeping until the next one is due."""
        while True:
            try:
                await self.refresh_due()
            except Exception:
                log.exception("catalog refresh failed")
            await asyncio.sleep(self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        now = now_utc()
        upcoming = [at for p in self._targets if (at := self.next_refresh(p)) is not None]
        if not upcoming:
            return 60.0
        return min(max((min(upcoming) - now).total_seconds(), 0.05), 60.0)

    async def _adopt_stored(self, *, only_newer: bool) -> int:
        names = [p.name for p in self._targets]
        if not names:
            return 0
        try:
            if only_newer:
                times = await snapshot_times(self._engine)
                names = [n for n in names if n in times and self._newer(n, times[n])]
                if not names:
                    return 0
            snapshots = await load_snapshots(self._engine, names)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not read stored model lists: %s", type(exc).__name__)
            return 0
        for snapshot in snapshots.values():
            if not only_newer or self._newer(snapshot.provider, snapshot.fetched_at):
                self._replace(snapshot.provider, snapshot.models, snapshot.fetched_at, "stored")
                self._retry_at.pop(snapshot.provider, None)
        return len(snapshots)

    def _replace(
        self,
        provider: str,
        models: Iterable[ListedModel],
        fetched_at: datetime,
        source: ListSource,
    ) -> None:
        """Swap in the provider's new list, logging the routes it adds (or whose model type
        it changes) that the provider's adapter cannot serve."""
        if self._adapters is None:
            self._catalog.replace(provider, models, fetched_at, source)
            return
        before = {(route.public_id, route.model.type) for route in self._routes(provider)}
        self._catalog.replace(provider, models, fetched_at, source)
        added = [r for r in self._routes(provider) if (r.public_id, r.model.type) not in before]
        log_unserved(added, self._adapters)

    def _routes(self, provider: str) -> list[Route]:
        """The provider's callable routes."""
        entries = self._catalog.provider_entries(provider)
        return [entry.route for entry in entries if entry.route is not None]

    def _newer(self, provider: str, fetched_at: datetime) -> bool:
        held = self._catalog.listing(provider).fetched_at
        return held is None or fetched_at > held

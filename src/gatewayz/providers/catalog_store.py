"""Catalog snapshots: each provider's last good model list, kept in the database.

A restart, or a provider that cannot be reached, still has the catalog it had; gateway
processes sharing one database also share what any of them fetched.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.providers.listing import ListedModel
from gatewayz.store.tables import catalog_snapshots
from gatewayz.store.times import utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One provider's stored list and when it was fetched."""

    provider: str
    fetched_at: datetime
    models: tuple[ListedModel, ...]


async def save_snapshot(
    engine: AsyncEngine, provider: str, models: tuple[ListedModel, ...], fetched_at: datetime
) -> None:
    """Replace the provider's stored list with `models`."""
    payload = orjson.dumps([model.to_json() for model in models]).decode()
    async with engine.begin() as conn:
        await conn.execute(
            delete(catalog_snapshots).where(catalog_snapshots.c.provider == provider)
        )
        await conn.execute(
            catalog_snapshots.insert().values(
                provider=provider,
                fetched_at=fetched_at,
                model_count=len(models),
                models=payload,
            )
        )


async def snapshot_times(engine: AsyncEngine) -> dict[str, datetime]:
    """When each stored list was fetched, without reading the lists."""
    query = select(catalog_snapshots.c.provider, catalog_snapshots.c.fetched_at)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {provider: utc(fetched_at) for provider, fetched_at in rows}


async def load_snapshots(
    engine: AsyncEngine, providers: list[str] | None = None
) -> dict[str, Snapshot]:
    """The stored lists (of `providers`, or all); a row that cannot be read is skipped."""
    query = select(
        catalog_snapshots.c.provider, catalog_snapshots.c.fetched_at, catalog_snapshots.c.models
    )
    if providers is not None:
        query = query.where(catalog_snapshots.c.provider.in_(providers))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    snapshots: dict[str, Snapshot] = {}
    for provider, fetched_at, payload in rows:
        try:
            models = tuple(ListedModel.from_json(item) for item in orjson.loads(payload))
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring the stored model list of %s: %s", provider, exc)
            continue
        snapshots[provider] = Snapshot(provider, utc(fetched_at), models)
    return snapshots

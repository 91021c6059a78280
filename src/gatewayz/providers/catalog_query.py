"""Questions asked of the catalog: filtered and searched model lists, provider status."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from gatewayz.providers.catalog import Catalog, CatalogEntry
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import Provider

ProviderStatus = Literal["ok", "error", "pending", "static", "disabled"]


@dataclass(frozen=True, slots=True)
class ModelFilter:
    """Conditions a listed model must all meet; None means no condition."""

    provider: str | None = None
    modality: str | None = None
    query: str | None = None
    min_context: int | None = None
    max_price: Decimal | None = None
    supports_tools: bool | None = None
    callable: bool | None = None

    def matches(self, entry: CatalogEntry) -> bool:
        """Whether the entry meets every condition."""
        model = entry.model
        if self.provider is not None and entry.provider.name != self.provider:
            return False
        if self.callable is not None and entry.callable != self.callable:
            return False
        if self.modality is not None:
            wanted = self.modality.lower()
            if wanted not in model.inputs and wanted not in model.outputs:
                return False
        if self.min_context is not None and (model.context_length or 0) < self.min_context:
            return False
        if self.supports_tools is not None and bool(model.supports_tools) != self.supports_tools:
            return False
        if self.max_price is not None and not _within(entry, self.max_price):
            return False
        return self.query is None or _mentions(entry, self.query)


def _within(entry: CatalogEntry, limit: Decimal) -> bool:
    """Priced, and no price of it (per million tokens, or per image) above `limit`."""
    model = entry.model
    if not model.priced:
        return False
    prices = (model.input_price_per_mtok, model.output_price_per_mtok, model.image_price)
    return all(price <= limit for price in prices if price is not None)


def _mentions(entry: CatalogEntry, query: str) -> bool:
    """Every word of `query` appears in the model's ids or name (case-insensitive)."""
    haystack = " ".join(
        (entry.public_id, entry.canonical_id, entry.model.name or "", entry.provider.name)
    ).lower()
    return all(word in haystack for word in query.lower().split())


def search(entries: Iterable[CatalogEntry], wanted: ModelFilter) -> list[CatalogEntry]:
    """Matching models: exact id matches first, then callable ones, then cheapest."""
    query = (wanted.query or "").strip().lower()

    def rank(entry: CatalogEntry) -> tuple[bool, bool, Decimal, str]:
        exact = query in (entry.canonical_id, entry.model.id.lower(), entry.public_id.lower())
        model = entry.model
        prices = (model.input_price_per_mtok, model.output_price_per_mtok, model.image_price)
        total = sum((p for p in prices if p is not None), Decimal(0))
        return (not exact, not entry.callable, total, entry.public_id)

    return sorted((e for e in entries if wanted.matches(e)), key=rank)


@dataclass(frozen=True, slots=True)
class ProviderSummary:
    """One row of the provider table as the catalog sees it."""

    name: str
    display_name: str
    protocol: str
    enabled: bool
    status: ProviderStatus
    source: str | None
    models: int
    callable: int
    last_sync_at: datetime | None
    next_sync_at: datetime | None
    error: str | None


def provider_summaries(
    table: Iterable[ProviderSpec],
    catalog: Catalog,
    next_refresh: Callable[[Provider], datetime | None],
) -> list[ProviderSummary]:
    """Every provider of the table, enabled or not, with its list's state."""
    return [_summary(spec, catalog, next_refresh) for spec in table]


def _summary(
    spec: ProviderSpec,
    catalog: Catalog,
    next_refresh: Callable[[Provider], datetime | None],
) -> ProviderSummary:
    provider = catalog.providers.get(spec.name)
    if provider is None:
        return ProviderSummary(
            name=spec.name,
            display_name=spec.display_name or spec.name,
            protocol=spec.protocol,
            enabled=False,
            status="disabled",
            source=None,
            models=0,
            callable=0,
            last_sync_at=None,
            next_sync_at=None,
            error=None,
        )
    listing = catalog.listing(spec.name)
    entries = catalog.provider_entries(spec.name)
    if listing.error is not None:
        status: ProviderStatus = "error"
    elif listing.fetched_at is not None:
        status = "ok"
    else:
        status = "static" if provider.spec.models_path is None else "pending"
    if listing.models is not None:
        source: str | None = listing.source
    elif any(not e.declared for e in entries):
        source = "bundled"
    else:
        source = "config" if entries else None
    return ProviderSummary(
        name=spec.name,
        display_name=provider.spec.display_name or spec.name,
        protocol=provider.spec.protocol,
        enabled=True,
        status=status,
        source=source,
        models=len(entries),
        callable=sum(e.callable for e in entries),
        last_sync_at=listing.fetched_at,
        next_sync_at=next_refresh(provider),
        error=listing.error,
    )

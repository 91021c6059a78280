"""The model catalog: which enabled provider serves which model, at what price.

Per provider the catalog holds one model list: the last good fetched (or stored) list, else
the bundled fallback list. Models the operator declares in YAML are always there and win
over listed data for the same id. A listed model is callable (has a Route) only when it has
prices; the others are listed with null pricing. Lookups read one immutable index that a
refresh replaces in a single assignment, so `candidates()` stays a dict lookup.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from gatewayz.providers.bundled import Bundled
from gatewayz.providers.canonical import canonical_id
from gatewayz.providers.listing import ListedModel
from gatewayz.providers.spec import ModelSpec
from gatewayz.providers.table import Provider

ListSource = Literal["fetched", "stored"]


@dataclass(frozen=True, slots=True)
class Route:
    """One way to serve a model: a provider and its model (the provider's own id)."""

    provider: Provider
    model: ModelSpec

    @property
    def public_id(self) -> str:
        return f"{self.provider.name}/{self.model.id}"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A listed model of one provider; `route` is None when it cannot be billed (no prices)."""

    provider: Provider
    model: ListedModel
    route: Route | None
    declared: bool

    @property
    def public_id(self) -> str:
        return f"{self.provider.name}/{self.model.id}"

    @property
    def canonical_id(self) -> str:
        return self.model.canonical_id or self.model.id

    @property
    def callable(self) -> bool:
        return self.route is not None


@dataclass(frozen=True, slots=True)
class ProviderListing:
    """One provider's last good list, where it came from, and the last failure since."""

    models: tuple[ListedModel, ...] | None = None
    source: ListSource | None = None
    fetched_at: datetime | None = None
    error: str | None = None
    failed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Index:
    entries: tuple[CatalogEntry, ...]
    by_public_id: dict[str, CatalogEntry]
    by_name: dict[str, tuple[CatalogEntry, ...]]
    routes: dict[str, Route]
    by_model: dict[str, tuple[Route, ...]]


class Catalog:
    """Resolves `provider/model`, plain and canonical model ids to the routes serving them.

    Models that several providers serve under their own ids share a canonical id; a plain
    or canonical id resolves to one route per provider serving it, in provider-table order
    (on each provider the model with exactly that id first, then a declared one).
    """

    def __init__(self, providers: list[Provider], bundled: Bundled | None = None) -> None:
        self.providers = {p.name: p for p in providers}
        self._bundled = bundled or Bundled()
        self._listings = {p.name: ProviderListing() for p in providers}
        self._entries = {p.name: self._provider_entries(p) for p in providers}
        self._index = self._build_index()

    def candidates(self, model: str) -> list[Route]:
        """Routes for `model`, best first; empty when nothing serves it."""
        index = self._index
        route = index.routes.get(model)
        if route is not None:
            return [route]
        routes = index.by_model.get(model)
        if routes is None and model and "/" not in model:
            routes = index.by_model.get(canonical_id(model, self._bundled.aliases))
        return list(routes or ())

    def known_id(self, model: str) -> str | None:
        """The catalog's own id for `model` when it names a route, a model or (a plain id) a
        canonical id; None for a name the catalog does not know."""
        index = self._index
        if model in index.routes or model in index.by_model:
            return model
        if model and "/" not in model:
            canonical = canonical_id(model, self._bundled.aliases)
            if canonical in index.by_model:
                return canonical
        return None

    def routes(self) -> list[Route]:
        """Every callable route."""
        return list(self._index.routes.values())

    def entries(self) -> tuple[CatalogEntry, ...]:
        """Every listed model, callable or not, in provider-table order."""
        return self._index.entries

    def lookup(self, model: str) -> tuple[CatalogEntry, ...]:
        """Entries for a `provider/model` id, or for a plain or canonical model id."""
        index = self._index
        entry = index.by_public_id.get(model)
        if entry is not None:
            return (entry,)
        found = index.by_name.get(model)
        if found is None and model and "/" not in model:
            found = index.by_name.get(canonical_id(model, self._bundled.aliases))
        return found or ()

    def canonical(self, model_id: str) -> str:
        """The canonical id the catalog gives `model_id` (a provider's own model id)."""
        return canonical_id(model_id, self._bundled.aliases)

    def listing(self, provider: str) -> ProviderListing:
        """What the catalog holds of the provider's own list (empty if never fetched)."""
        return self._listings.get(provider, ProviderListing())

    def provider_entries(self, provider: str) -> tuple[CatalogEntry, ...]:
        """The provider's listed models."""
        return self._entries.get(provider, ())

    def replace(
        self,
        provider: str,
        models: Iterable[ListedModel],
        fetched_at: datetime,
        source: ListSource = "fetched",
    ) -> None:
        """Swap in a provider's new list (atomically for readers) and clear its error."""
        if provider not in self.providers:
            return
        self._listings[provider] = ProviderListing(tuple(models), source, fetched_at)
        self._entries[provider] = self._provider_entries(self.providers[provider])
        self._index = self._build_index()

    def mark_failed(self, provider: str, error: str, at: datetime) -> None:
        """Record a failed refresh; the provider keeps its last good list."""
        if provider in self._listings:
            self._listings[provider] = replace(self._listings[provider], error=error, failed_at=at)

    def _provider_entries(self, provider: Provider) -> tuple[CatalogEntry, ...]:
        listing = self._listings[provider.name]
        bundled = {m.id: m for m in self._bundled.for_provider(provider.name)}
        fetched = listing.models is not None
        base = listing.models if listing.models is not None else tuple(bundled.values())
        by_id = {m.id: m for m in base}
        entries = [
            self._entry(provider, ListedModel.from_spec(spec).filled_from(by_id.get(spec.id)), spec)
            for spec in provider.spec.models
        ]
        declared = {spec.id for spec in provider.spec.models}
        for model in base:
            if model.id not in declared:
                listed = model.filled_from(bundled.get(model.id)) if fetched else model
                entries.append(self._entry(provider, listed, None))
        return tuple(entries)

    def _entry(
        self, provider: Provider, model: ListedModel, spec: ModelSpec | None
    ) -> CatalogEntry:
        canonical = model.canonical_id or canonical_id(model.id, self._bundled.aliases)
        if model.canonical_id != canonical:
            model = replace(model, canonical_id=canonical)
        route: Route | None = None
        if spec is not None:
            if spec.canonical_id != canonical:
                spec = spec.model_copy(update={"canonical_id": canonical})
            route = Route(provider, spec)
        elif model.priced:
            try:
                route = Route(provider, model.to_spec())
            except ValidationError:
                route = None
        return CatalogEntry(provider, model, route, declared=spec is not None)

    def _build_index(self) -> _Index:
        entries: list[CatalogEntry] = []
        by_public_id: dict[str, CatalogEntry] = {}
        by_name: dict[str, list[CatalogEntry]] = {}
        routes: dict[str, Route] = {}
        by_model: dict[str, list[Route]] = {}
        for name in self.providers:
            best: dict[str, tuple[int, Route]] = {}
            for entry in self._entries[name]:
                entries.append(entry)
                by_public_id.setdefault(entry.public_id, entry)
                for key in dict.fromkeys((entry.model.id, entry.canonical_id)):
                    by_name.setdefault(key, []).append(entry)
                if entry.route is None:
                    continue
                routes.setdefault(entry.public_id, entry.route)
                ranks = {entry.model.id: 0}
                ranks.setdefault(entry.canonical_id, 1 if entry.declared else 2)
                for key, rank in ranks.items():
                    if key not in best or rank < best[key][0]:
                        best[key] = (rank, entry.route)
            for key, (_, route) in best.items():
                by_model.setdefault(key, []).append(route)
        return _Index(
            entries=tuple(entries),
            by_public_id=by_public_id,
            by_name={key: tuple(found) for key, found in by_name.items()},
            routes=routes,
            by_model={key: tuple(found) for key, found in by_model.items()},
        )

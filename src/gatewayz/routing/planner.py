"""Candidate selection: which routes can serve a request, in which order."""

import random
from collections.abc import Mapping

from gatewayz.errors import ModelNotFound
from gatewayz.providers.catalog import Catalog, Route
from gatewayz.providers.spec import ModelType
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.options import RoutingOptions
from gatewayz.routing.settings import RoutingSettings, Strategy


class Planner:
    """Orders the routes for a request: its models in turn, each model's routes by strategy."""

    def __init__(
        self,
        catalog: Catalog,
        health: HealthBoard,
        settings: RoutingSettings,
        rng: random.Random | None = None,
    ) -> None:
        self._catalog = catalog
        self._health = health
        self._settings = settings
        self._rng = rng or random.Random()

    def plan(self, options: RoutingOptions, kind: ModelType = "chat") -> list[Route]:
        """Routes to try in order; ModelNotFound when none serves the primary or any fallback.

        Only models of `kind` (chat, embeddings, images) are candidates.
        """
        routes: list[Route] = []
        for model in options.models:
            config = self._settings.models.get(model)
            candidates = [
                route
                for route in self._candidates(model)
                if route.model.type == kind
                and (options.only is None or route.provider.name in options.only)
                and route.provider.name not in options.ignore
            ]
            strategy = (
                options.sort or (config.strategy if config else None) or self._settings.strategy
            )
            weights = {**self._settings.weights, **(config.weights if config else {})}
            candidates = self._order(candidates, strategy, weights)
            if options.order:
                rank = {name: i for i, name in enumerate(options.order)}
                candidates.sort(key=lambda r: rank.get(r.provider.name, len(rank)))
            routes.extend(r for r in candidates if r not in routes)
        if not routes:
            raise ModelNotFound(options.models[0])
        return routes if options.allow_fallbacks else routes[:1]

    def _candidates(self, model: str) -> list[Route]:
        config = self._settings.models.get(model)
        if config is None or not config.candidates:
            return self._catalog.candidates(model)
        routes: list[Route] = []
        for candidate in config.candidates:
            routes.extend(r for r in self._catalog.candidates(candidate) if r not in routes)
        return routes

    def _order(
        self, routes: list[Route], strategy: Strategy, weights: Mapping[str, float]
    ) -> list[Route]:
        if strategy == "lowest_price":
            return sorted(
                routes,
                key=lambda r: (
                    (r.model.input_price_per_mtok or 0) + (r.model.output_price_per_mtok or 0)
                ),
            )
        if strategy == "lowest_latency":
            inf = float("inf")
            return sorted(routes, key=lambda r: self._health.median_latency(r.provider.name) or inf)
        if strategy == "weighted":
            return self._weighted_shuffle(routes, weights)
        return list(routes)

    def _weighted_shuffle(self, routes: list[Route], weights: Mapping[str, float]) -> list[Route]:
        """A random order in which a route comes first in proportion to its weight."""
        keyed = []
        for route in routes:
            weight = weights.get(route.public_id, weights.get(route.provider.name, 1.0))
            if weight <= 0:
                continue
            keyed.append((self._rng.random() ** (1.0 / weight), route))
        keyed.sort(key=lambda item: item[0], reverse=True)
        return [route for _, route in keyed]

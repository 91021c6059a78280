"""The model catalog: which enabled provider serves which model, at what price."""

from dataclasses import dataclass

from gatewayz.providers.spec import ModelSpec
from gatewayz.providers.table import Provider


@dataclass(frozen=True, slots=True)
class Route:
    """One way to serve a model: a provider and its model (the provider's own id)."""

    provider: Provider
    model: ModelSpec

    @property
    def public_id(self) -> str:
        return f"{self.provider.name}/{self.model.id}"


class Catalog:
    """Resolves `provider/model`, plain and canonical model ids to the routes serving them.

    Models that several providers serve under their own ids share a `canonical_id`; a plain
    or canonical id resolves to every such route, in provider-table order.
    """

    def __init__(self, providers: list[Provider]) -> None:
        self.providers = {p.name: p for p in providers}
        self._routes: dict[str, Route] = {}
        self._by_model: dict[str, list[Route]] = {}
        for provider in providers:
            for model in provider.spec.models:
                route = Route(provider, model)
                self._routes[route.public_id] = route
                for model_id in {model.id, model.canonical_id or model.id}:
                    self._by_model.setdefault(model_id, []).append(route)

    def candidates(self, model: str) -> list[Route]:
        """Routes for `model`, best first; empty when nothing serves it."""
        route = self._routes.get(model)
        if route is not None:
            return [route]
        return list(self._by_model.get(model, ()))

    def routes(self) -> list[Route]:
        return list(self._routes.values())

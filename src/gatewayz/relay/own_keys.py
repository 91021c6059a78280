"""Calls served with the caller's own provider keys (bring your own key)."""

from dataclasses import replace
from decimal import Decimal

from gatewayz.accounts.provider_keyring import ProviderKeyring
from gatewayz.errors import ModelNotFound
from gatewayz.providers.bundled import Bundled
from gatewayz.providers.catalog import Catalog, Route
from gatewayz.providers.spec import ModelType, ProviderSpec
from gatewayz.providers.table import Provider, keyless, merged_specs
from gatewayz.routing.options import RoutingOptions
from gatewayz.routing.planner import Planner


def keyless_catalog(
    configured: list[ProviderSpec],
    environ: dict[str, str],
    enabled: list[Provider],
    bundled: Bundled,
) -> Catalog:
    """The models of the providers the operator has no key for, which only users who bring
    their own key can call (their bundled model lists and the models declared in the config)."""
    names = {provider.name for provider in enabled}
    providers = (keyless(spec, environ) for spec in merged_specs(configured))
    return Catalog([p for p in providers if p is not None and p.name not in names], bundled)


class OwnKeyRouting:
    """Plans calls so that a route to a provider the caller has a key for carries that key.

    Routes to the operator's providers keep their order; routes to providers only the
    caller's keys make usable come after them. A call on the caller's own key costs
    `fee_percent` of its token price (default 0: the caller pays the provider directly).
    Callers without keys cost one dict lookup.
    """

    def __init__(
        self,
        planner: Planner,
        keyless_planner: Planner,
        keyring: ProviderKeyring,
        fee_percent: Decimal,
    ) -> None:
        self._planner = planner
        self._keyless = keyless_planner
        self._keyring = keyring
        self._fee_basis_points = int(fee_percent * 100)

    def plan(self, user_id: int, options: RoutingOptions, kind: ModelType) -> list[Route]:
        """The routes to try in order; ModelNotFound when none serves the model."""
        keys = self._keyring.keys_of(user_id)
        if not keys:
            return self._planner.plan(options, kind)
        try:
            routes = self._planner.plan(options, kind)
        except ModelNotFound:
            routes = []
        routes += self._keyless_routes(frozenset(keys), options, kind)
        if not routes:
            raise ModelNotFound(options.models[0])
        if not options.allow_fallbacks:
            routes = routes[:1]
        return [_with_key(route, keys.get(route.provider.name)) for route in routes]

    def charge(self, route: Route, units: int) -> int:
        """What a call on the route pays for a token price of `units` (rounded down)."""
        if not route.provider.user_key:
            return units
        return units * self._fee_basis_points // 10_000

    def _keyless_routes(
        self, names: frozenset[str], options: RoutingOptions, kind: ModelType
    ) -> list[Route]:
        only = names if options.only is None else names & options.only
        if not only:
            return []
        try:
            return self._keyless.plan(replace(options, only=only), kind)
        except ModelNotFound:
            return []


def charge(own_keys: OwnKeyRouting | None, route: Route, units: int) -> int:
    """What a call on the route pays for a token price of `units`: less on the caller's own
    provider key, when calls may take one (`own_keys`)."""
    return units if own_keys is None else own_keys.charge(route, units)


def _with_key(route: Route, key: str | None) -> Route:
    """The route with the caller's key instead of the operator's, if the caller has one and
    the provider takes own keys (a key stored before the operator stopped that is not used)."""
    if key is None or not route.provider.spec.own_keys:
        return route
    return Route(replace(route.provider, api_key=key, user_key=True), route.model)

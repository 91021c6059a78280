"""Per-request routing options in OpenRouter's style: `models` and `provider`."""

from dataclasses import dataclass
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.routing.settings import Strategy

_SORTS: dict[str, Strategy] = {
    "price": "lowest_price",
    "latency": "lowest_latency",
    "throughput": "lowest_latency",
    "priority": "priority",
    "weighted": "weighted",
    "lowest_price": "lowest_price",
    "lowest_latency": "lowest_latency",
}
ROUTING_FIELDS = ("models", "provider")


@dataclass(frozen=True, slots=True)
class RoutingOptions:
    models: tuple[str, ...]
    order: tuple[str, ...] = ()
    only: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    allow_fallbacks: bool = True
    sort: Strategy | None = None


def _names(value: Any, param: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"'{param}' must be an array of non-empty strings.", param=param)
    return tuple(value)


def parse_options(body: dict[str, Any]) -> RoutingOptions:
    """The routing options of a request body; the primary model always comes first."""
    models = [body["model"]]
    if body.get("models") is not None:
        models += [m for m in _names(body["models"], "models") if m not in models]
    provider = body.get("provider")
    if provider is None:
        return RoutingOptions(tuple(models))
    if not isinstance(provider, dict):
        raise InvalidRequest("'provider' must be an object.", param="provider")
    unknown = set(provider) - {"order", "only", "ignore", "allow_fallbacks", "sort"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidRequest(
            f"Unknown routing option 'provider.{field}'.", param=f"provider.{field}"
        )
    allow = provider.get("allow_fallbacks", True)
    if not isinstance(allow, bool):
        raise InvalidRequest(
            "'provider.allow_fallbacks' must be a boolean.", param="provider.allow_fallbacks"
        )
    sort = provider.get("sort")
    if sort is not None and sort not in _SORTS:
        raise InvalidRequest(
            f"'provider.sort' must be one of {', '.join(_SORTS)}.", param="provider.sort"
        )
    return RoutingOptions(
        models=tuple(models),
        order=_names(provider["order"], "provider.order") if "order" in provider else (),
        only=frozenset(_names(provider["only"], "provider.only")) if "only" in provider else None,
        ignore=frozenset(_names(provider["ignore"], "provider.ignore"))
        if "ignore" in provider
        else frozenset(),
        allow_fallbacks=allow,
        sort=_SORTS[sort] if sort else None,
    )


def without_routing_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The body minus the gateway's routing options, which upstreams do not understand."""
    if not any(field in body for field in ROUTING_FIELDS):
        return body
    return {k: v for k, v in body.items() if k not in ROUTING_FIELDS}

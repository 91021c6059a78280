"""Provider health: GET /api/monitoring/health[/{provider}] (admins) and GET /status (public)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gatewayz.accounts.auth import Principal
from gatewayz.accounts.permissions import require_permission
from gatewayz.api.deps import CatalogDep, HealthDep
from gatewayz.errors import NotFound
from gatewayz.providers.catalog import Catalog
from gatewayz.routing.health import HealthBoard

router = APIRouter(tags=["monitoring"])
_monitoring = require_permission("monitoring:read")


def _summaries(health: HealthBoard, catalog: Catalog) -> list[dict[str, Any]]:
    return [health.summary(name) for name in catalog.providers]


@router.get("/api/monitoring/health")
async def all_providers(
    health: HealthDep, catalog: CatalogDep, _admin: Annotated[Principal, Depends(_monitoring)]
) -> dict[str, Any]:
    """Every enabled provider: state, error rate, latency p50/p95, last error, circuits."""
    return {"providers": _summaries(health, catalog)}


@router.get("/api/monitoring/health/{provider}")
async def one_provider(
    provider: str,
    health: HealthDep,
    catalog: CatalogDep,
    _admin: Annotated[Principal, Depends(_monitoring)],
) -> dict[str, Any]:
    if provider not in catalog.providers:
        raise NotFound(f"No enabled provider named '{provider}'.", param="provider")
    return health.summary(provider)


@router.get("/status")
async def status(health: HealthDep, catalog: CatalogDep) -> dict[str, Any]:
    """A public summary: overall state and each provider's state, no error details."""
    states = {s["provider"]: s["state"] for s in _summaries(health, catalog)}
    known = [s for s in states.values() if s != "unknown"]
    if known and all(s == "down" for s in known):
        overall = "down"
    elif any(s in ("down", "degraded") for s in known):
        overall = "degraded"
    else:
        overall = "operational"
    return {"status": overall, "providers": states}

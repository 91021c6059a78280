"""Provider health: GET /api/monitoring/health[/{provider}] (admins) and GET /status (public)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gatewayz.accounts.auth import Principal
from gatewayz.accounts.permissions import require_permission
from gatewayz.errors import NotFound

router = APIRouter(tags=["monitoring"])
_monitoring = require_permission("monitoring:read")


def _summaries(request: Request) -> list[dict[str, Any]]:
    health = request.app.state.health
    return [health.summary(name) for name in request.app.state.catalog.providers]


@router.get("/api/monitoring/health")
async def all_providers(
    request: Request, _admin: Annotated[Principal, Depends(_monitoring)]
) -> dict[str, Any]:
    """Every enabled provider: state, error rate, latency p50/p95, last error, circuits."""
    return {"providers": _summaries(request)}


@router.get("/api/monitoring/health/{provider}")
async def one_provider(
    provider: str, request: Request, _admin: Annotated[Principal, Depends(_monitoring)]
) -> dict[str, Any]:
    if provider not in request.app.state.catalog.providers:
        raise NotFound(f"No enabled provider named '{provider}'.", param="provider")
    return request.app.state.health.summary(provider)


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """A public summary: overall state and each provider's state, no error details."""
    states = {s["provider"]: s["state"] for s in _summaries(request)}
    known = [s for s in states.values() if s != "unknown"]
    if known and all(s == "down" for s in known):
        overall = "down"
    elif any(s in ("down", "degraded") for s in known):
        overall = "degraded"
    else:
        overall = "operational"
    return {"status": overall, "providers": states}

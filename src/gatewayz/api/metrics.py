"""GET /metrics: Prometheus metrics of every worker process."""

import asyncio

from fastapi import APIRouter
from starlette.responses import Response

from gatewayz.api.deps import HealthDep, TelemetryDep
from gatewayz.telemetry.metrics import CONTENT_TYPE

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", include_in_schema=False)
async def metrics(telemetry: TelemetryDep, health: HealthDep) -> Response:
    """The metrics in Prometheus text format, circuit states read fresh from this process."""
    metrics = telemetry.metrics
    for provider, model, circuit in health.circuit_states():
        metrics.circuit_state(provider, model, circuit)
    body = await asyncio.to_thread(metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE)

"""GET /metrics: Prometheus metrics of every worker process."""

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from gatewayz.telemetry.metrics import CONTENT_TYPE

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The metrics in Prometheus text format, circuit states read fresh from this process."""
    metrics = request.app.state.telemetry.metrics
    for provider, model, circuit in request.app.state.health.circuit_states():
        metrics.circuit_state(provider, model, circuit)
    body = await asyncio.to_thread(metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE)

"""What the gateway's own request log says about models: request counts and latencies.

Computed from `request_logs` only, so a gateway without traffic reports nothing rather than
anything invented.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.tables import request_logs


@dataclass(frozen=True, slots=True)
class RouteUsage:
    """Requests one provider model served in a window."""

    provider: str
    model: str
    requests: int


@dataclass(frozen=True, slots=True)
class RouteLatency:
    """Latency of one provider model's successful requests in a window (milliseconds)."""

    provider: str
    model: str
    requests: int
    avg_latency_ms: float
    avg_ttft_ms: float | None
    ttft_samples: int


async def usage_since(engine: AsyncEngine, since: datetime) -> list[RouteUsage]:
    """Requests sent to each provider model since `since`, most first."""
    count = func.count()
    query = (
        select(request_logs.c.provider, request_logs.c.provider_model, count)
        .where(
            request_logs.c.created_at >= since,
            request_logs.c.provider.is_not(None),
            request_logs.c.provider_model.is_not(None),
        )
        .group_by(request_logs.c.provider, request_logs.c.provider_model)
        .order_by(count.desc())
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [RouteUsage(provider, model, int(n)) for provider, model, n in rows]


async def latency_since(engine: AsyncEngine, since: datetime) -> list[RouteLatency]:
    """Average latency and time to first token of each provider model's successful requests."""
    query = (
        select(
            request_logs.c.provider,
            request_logs.c.provider_model,
            func.count(),
            func.avg(request_logs.c.latency_ms),
            func.avg(request_logs.c.ttft_ms),
            func.count(request_logs.c.ttft_ms),
        )
        .where(
            request_logs.c.created_at >= since,
            request_logs.c.status_code < 400,
            request_logs.c.provider.is_not(None),
            request_logs.c.provider_model.is_not(None),
        )
        .group_by(request_logs.c.provider, request_logs.c.provider_model)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        RouteLatency(
            provider,
            model,
            int(n),
            float(latency),
            float(ttft) if ttft is not None else None,
            int(ttft_n),
        )
        for provider, model, n, latency, ttft, ttft_n in rows
    ]

"""Active health probes: a cheap model-list request to each provider on a schedule."""

import asyncio
import logging
import time

import aiohttp

from gatewayz.providers.table import Provider
from gatewayz.routing.health import HealthBoard

log = logging.getLogger(__name__)


async def probe(session: aiohttp.ClientSession, provider: Provider, health: HealthBoard) -> bool:
    """GET the provider's model list; record the outcome against all its circuits."""
    assert provider.spec.models_path is not None
    started = time.monotonic()
    error: str | None = None
    try:
        async with session.get(
            provider.base_url + provider.spec.models_path,
            headers=provider.request_headers(),
            timeout=aiohttp.ClientTimeout(
                total=10, sock_connect=provider.spec.connect_timeout_seconds
            ),
        ) as response:
            await response.read()
            if response.status >= 500 or response.status in (401, 403, 429):
                error = f"probe answered with status {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"probe failed: {type(exc).__name__}"
    health.record(provider.name, None, error is None, time.monotonic() - started, error)
    return error is None


async def probe_forever(
    session: aiohttp.ClientSession, providers: list[Provider], health: HealthBoard, interval: float
) -> None:
    """Probe every provider that publishes a model list, every `interval` seconds."""
    targets = [p for p in providers if p.spec.models_path is not None]
    while True:
        results = await asyncio.gather(*(probe(session, p, health) for p in targets))
        for provider, ok in zip(targets, results, strict=True):
            if not ok:
                log.warning("health probe of %s failed", provider.name)
        await asyncio.sleep(interval)

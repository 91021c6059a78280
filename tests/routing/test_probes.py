import asyncio

import aiohttp
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import Provider
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.probes import probe
from tests.conftest import SECRET, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream


def provider_at(base_url: str, key: str) -> Provider:
    spec = ProviderSpec(name="fake", protocol="openai", base_url=base_url, api_key=key)
    return Provider(spec, base_url, key)


async def test_probe_records_success_and_failures(upstream: FakeOpenAIUpstream) -> None:
    board = HealthBoard(threshold=1, cooldown=60)
    board.circuit("fake", "fake-model")
    async with aiohttp.ClientSession() as session:
        assert await probe(session, provider_at(upstream.base_url, upstream.api_key), board)
        assert board.summary("fake")["circuits"] == {"fake-model": "closed"}
        assert not await probe(session, provider_at(upstream.base_url, "sk-wrong"), board)
    summary = board.summary("fake")
    assert summary["last_error"] == "probe answered with status 401"
    assert summary["circuits"] == {"fake-model": "open"}
    assert upstream.requests[-1].path == "/v1/models"


async def test_gateway_probes_on_a_schedule(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    admin = await accounts.create_user(engine, "ops@example.com", role="admin")
    key = await accounts.create_key(engine, SECRET.encode(), admin.id, "ops")
    settings = gateway_settings(database_url, upstream, routing={"probe_interval_seconds": 0.05})
    async with serve(settings) as (base_url, _state):
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=base_url) as http:
            health = await http.get(
                "/api/monitoring/health/fake", headers={"Authorization": f"Bearer {key}"}
            )
    assert health.json()["requests"] >= 2
    assert health.json()["state"] == "healthy"
    assert sum(r.path == "/v1/models" for r in upstream.requests) >= 2

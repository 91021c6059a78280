"""A fault inside the gateway itself still settles the call: no hold is left behind."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.protocols.fields import Dropped
from gatewayz.providers.base import EventStream, UpstreamReply
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.table import Provider
from gatewayz.store.tables import request_logs, users
from tests.conftest import add_funded_user, gateway_settings, serve, settle_now
from tests.fakes.openai_upstream import FakeOpenAIUpstream


class _BrokenAdapter:
    """A chat adapter with a bug: it raises something no upstream error maps to."""

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply:
        raise RuntimeError("a bug")

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> EventStream:
        raise RuntimeError("a bug")


async def test_unexpected_errors_release_the_hold_and_are_logged(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    _, key = await add_funded_user(engine, "dev@example.com", "10")
    broken = {"openai": Adapter(chat=_BrokenAdapter())}
    async with serve(gateway_settings(database_url, upstream), adapters=broken) as (url, state):
        async with httpx.AsyncClient(base_url=url) as http:
            for stream in (False, True):
                answer = await http.post(
                    "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {key}"},
                    json={
                        "model": "fake/fake-model",
                        "stream": stream,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                )
                assert answer.status_code == 500
                assert answer.json()["error"]["type"] == "api_error"
        await settle_now(state)
    async with engine.connect() as conn:
        statuses = [row[0] for row in await conn.execute(select(request_logs.c.status_code))]
        reserved, balance = (
            await conn.execute(select(users.c.reserved_units, users.c.balance_units))
        ).one()
    assert statuses == [500, 500]
    assert (reserved, balance) == (0, 10 * 10**9)

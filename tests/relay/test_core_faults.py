"""A fault inside the gateway itself still settles the call: no hold is left behind."""

from typing import Any

import httpx
from sqlalchemy import select

from gatewayz.store.tables import request_logs, users
from tests.conftest import Gateway


class _BrokenAdapter:
    """An adapter with a bug: it raises something no upstream error maps to."""

    async def chat(self, provider: Any, body: dict[str, Any]) -> Any:
        raise RuntimeError("a bug")

    async def chat_stream(self, provider: Any, body: dict[str, Any]) -> Any:
        raise RuntimeError("a bug")


async def test_unexpected_errors_release_the_hold_and_are_logged(gateway: Gateway) -> None:
    relay = gateway.app_state.relay
    working = relay._adapters["openai"]
    relay._adapters["openai"] = _BrokenAdapter()
    try:
        async with httpx.AsyncClient(base_url=gateway.base_url) as http:
            for stream in (False, True):
                answer = await http.post(
                    "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {gateway.api_key}"},
                    json={
                        "model": "fake/fake-model",
                        "stream": stream,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                )
                assert answer.status_code == 500
                assert answer.json()["error"]["type"] == "api_error"
    finally:
        relay._adapters["openai"] = working
    await gateway.flush()
    async with gateway.engine.connect() as conn:
        statuses = [row[0] for row in await conn.execute(select(request_logs.c.status_code))]
        reserved, balance = (
            await conn.execute(select(users.c.reserved_units, users.c.balance_units))
        ).one()
    assert statuses == [500, 500]
    assert (reserved, balance) == (0, 10 * 10**9)

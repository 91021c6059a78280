"""A client that hangs up cancels its upstream call at once, and the call is settled."""

import asyncio

import httpx
import pytest
from sqlalchemy import select

from gatewayz.store.tables import request_logs, users
from tests.conftest import Gateway


async def test_non_streamed_call_is_cancelled_when_the_client_leaves(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {gateway.api_key}"},
                json={
                    "model": "fake/fake-slow-2000",
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
    for _ in range(50):
        await gateway.flush()
        async with gateway.engine.connect() as conn:
            rows = (await conn.execute(select(request_logs))).mappings().all()
        if rows:
            break
        await asyncio.sleep(0.05)
    (row,) = rows
    await gateway.flush()  # the call has ended: its unused credit lease can go back
    assert row["status_code"] == 499
    assert row["latency_ms"] < 1500
    assert row["cost_units"] == 0
    async with gateway.engine.connect() as conn:
        reserved, balance = (
            await conn.execute(select(users.c.reserved_units, users.c.balance_units))
        ).one()
    assert (reserved, balance) == (0, 10 * 10**9)

"""What the end-to-end tests share: a caller of a running gateway, its books, and SSE reading."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.app_services import Services
from gatewayz.store.tables import ledger, request_logs
from tests.conftest import add_funded_user, settle_now
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.openai_spec import validate

UNITS_PER_CREDIT = 10**9
PRICE_IN = 2  # credits per million input tokens, as in tests/conftest.gateway_settings
PRICE_OUT = 8
REPLY = "This is a fake reply."
REPLY_TOKENS = 5
HI = [{"role": "user", "content": "say hi please"}]  # 3 prompt tokens at the fake upstream
HI_COST = 3 * 2_000 + 5 * 8_000  # 46_000 units
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]

_emails = itertools.count(1)


def cost_units(input_tokens: int, output_tokens: int) -> int:
    """What the gateway must charge, computed here independently of gatewayz.billing."""
    return input_tokens * PRICE_IN * 1_000 + output_tokens * PRICE_OUT * 1_000


@dataclass
class Caller:
    """One funded user with one API key, calling a gateway served over real HTTP."""

    base_url: str
    engine: AsyncEngine
    services: Services
    upstream: FakeOpenAIUpstream
    database_url: str
    user_id: int
    key_id: int
    api_key: str
    start_units: int

    def client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        options: dict[str, Any] = {"api_key": self.api_key, "max_retries": 0, "timeout": 20}
        return openai.AsyncOpenAI(base_url=self.base_url + "/v1", **(options | kwargs))

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=20, **kwargs)

    async def user(self) -> accounts.User:
        return await accounts.get_user(self.engine, user_id=self.user_id)

    async def logs(self, expected: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The user's request log rows, once `expected` calls have been written (oldest first).

        Settlements and log rows are written in the same batch transaction, so once the rows
        are there the calls are settled too; the credit lease they held is given back after.
        """
        deadline = time.monotonic() + timeout
        while True:
            await settle_now(self.services)
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(request_logs)
                        .where(request_logs.c.user_id == self.user_id)
                        .order_by(request_logs.c.id)
                    )
                ).all()
            if len(rows) >= expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        await settle_now(self.services)  # the last calls may have ended after the lease check
        assert len(rows) == expected, f"{len(rows)} request log rows, expected {expected}"
        return [dict(row._mapping) for row in rows]

    async def usage_rows(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(ledger)
                    .where(ledger.c.user_id == self.user_id, ledger.c.kind == "usage")
                    .order_by(ledger.c.id)
                )
            ).all()
        return [dict(row._mapping) for row in rows]

    async def assert_books(self, calls: int, charged: int) -> list[dict[str, Any]]:
        """After `calls` calls: exactly `charged` units charged, ledger and balance agree,
        nothing left on hold. Returns the request log rows."""
        logs = await self.logs(calls)
        user = await self.user()
        async with self.engine.connect() as conn:
            ledger_sum = await conn.scalar(
                select(func.coalesce(func.sum(ledger.c.amount_units), 0)).where(
                    ledger.c.user_id == self.user_id
                )
            )
        usage = await self.usage_rows()
        assert user.reserved_units == 0
        assert self.start_units - user.balance_units == charged
        assert user.balance_units == self.start_units + sum(r["amount_units"] for r in usage)
        assert user.balance_units == ledger_sum  # the grant plus every charge
        assert sum(log["cost_units"] for log in logs) == charged
        for row in usage:
            assert row["amount_units"] < 0 and row["balance_after_units"] >= 0
        return logs


async def new_caller(
    base_url: str,
    engine: AsyncEngine,
    services: Services,
    upstream: FakeOpenAIUpstream,
    database_url: str,
    credits: str = "10",
) -> Caller:
    email = f"user{next(_emails)}-{time.monotonic_ns()}@example.com"
    user_id, key = await add_funded_user(engine, email, credits)
    (key_info,) = await accounts.list_keys(engine, user_id)
    start = (await accounts.get_user(engine, user_id=user_id)).balance_units
    return Caller(
        base_url, engine, services, upstream, database_url, user_id, key_info.id, key, start
    )


async def sse_data(response: httpx.Response) -> list[Any]:
    """The data of each SSE event, JSON-decoded except the final ``[DONE]``."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events: list[Any] = []
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            payload = "\n".join(data)
            data = []
            events.append(payload if payload == "[DONE]" else orjson.loads(payload))
    assert not data, "the stream ended in the middle of an event"
    return events


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """An error as the OpenAI SDK reads it: status, the four fields, and a request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    validate("ErrorResponse", body)
    error = body["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["message"]
    return error

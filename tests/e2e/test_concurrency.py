"""100 calls at once against a balance that affords only some of them, on SQLite and
PostgreSQL: every call is either served and charged, or refused with 402 before it reaches
the upstream; the balance never goes below zero and always equals the ledger."""

import asyncio

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.tables import ledger, users
from tests.conftest import add_funded_user, serve, settle_now
from tests.e2e.conftest import e2e_settings
from tests.e2e.support import HI, HI_COST, assert_openai_error, cost_units
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CALLS = 100
AFFORDABLE = 30
MAX_TOKENS = 1_000
# Every call sends these exact bytes; the upstream holds each one for a second, so all the
# calls are in flight together and compete for the same balance.
BODY = orjson.dumps({"model": "fake-slow-1000", "messages": HI, "max_tokens": MAX_TOKENS})
# The hold: every request byte counted as an input token, and max_tokens output tokens.
WORST_CASE = cost_units(len(BODY), MAX_TOKENS)


async def test_concurrent_calls_never_overspend(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    start = AFFORDABLE * WORST_CASE
    credits = f"{start / 10**9:.9f}"
    user_id, key = await add_funded_user(engine, "many@example.com", credits)
    settings = e2e_settings(database_url, upstream, slow_models=("fake-slow-1000",))
    async with serve(settings) as (base_url, state):
        limits = httpx.Limits(max_connections=CALLS, max_keepalive_connections=CALLS)
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers, limits=limits, timeout=30
        ) as http:
            sampling = asyncio.Event()
            samples: list[tuple[int, int]] = []

            async def sample() -> None:
                while not sampling.is_set():
                    async with engine.connect() as conn:
                        row = (
                            await conn.execute(
                                select(users.c.balance_units, users.c.reserved_units).where(
                                    users.c.id == user_id
                                )
                            )
                        ).one()
                    samples.append((row[0], row[1]))
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            responses = await asyncio.gather(
                *(http.post("/v1/chat/completions", content=BODY) for _ in range(CALLS))
            )
            sampling.set()
            await sampler
        admitted = [r for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code != 200]
        for response in refused:
            assert_openai_error(response, 402)
        assert len(admitted) + len(refused) == CALLS
        assert len(admitted) >= AFFORDABLE
        assert refused, "every call was admitted: the balance was never contested"
        assert len(upstream.requests) == len(admitted)  # refused calls never left the gateway
        assert all(r.json()["choices"][0]["message"]["content"] for r in admitted)
        await settle_now(state)

    # The gateway has stopped, so every settlement has been written.
    async with engine.connect() as conn:
        balance, reserved = (
            await conn.execute(
                select(users.c.balance_units, users.c.reserved_units).where(users.c.id == user_id)
            )
        ).one()
        charges = (
            await conn.execute(
                select(ledger.c.amount_units, ledger.c.balance_after_units).where(
                    ledger.c.user_id == user_id, ledger.c.kind == "usage"
                )
            )
        ).all()
        shortfalls = await conn.scalar(
            select(func.sum(ledger.c.shortfall_units)).where(ledger.c.user_id == user_id)
        )
        ledger_sum = await conn.scalar(
            select(func.sum(ledger.c.amount_units)).where(ledger.c.user_id == user_id)
        )
    assert reserved == 0
    assert len(charges) == len(admitted)
    assert all(amount == -HI_COST and after >= 0 for amount, after in charges)
    assert balance == start + sum(amount for amount, _ in charges) == ledger_sum
    assert balance == start - len(admitted) * HI_COST >= 0
    assert shortfalls == 0, "every call was covered by its hold"
    assert samples, "the balance was never sampled during the calls"
    assert all(0 <= held <= bal for bal, held in samples)

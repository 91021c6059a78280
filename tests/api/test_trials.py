"""The free trial through a served gateway: started once, its limits met with the official
openai SDK while it runs, and its unused credits gone the moment it expires."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.app_services import Services
from gatewayz.billing import ledger, trials
from tests.api.admin_support import bearer, error_of
from tests.billing.plan_support import balance_and_ledger_sum, ledger_rows, move_trial_back
from tests.conftest import add_funded_user, gateway_settings, serve, settle_now
from tests.fakes.openai_upstream import FakeOpenAIUpstream

HI = [{"role": "user", "content": "say hi please"}]
EXPIRED = timedelta(days=3, minutes=1)


@dataclass
class Trialist:
    """A served gateway and a user without credits, who may start a trial."""

    base_url: str
    state: Services
    engine: AsyncEngine
    user_id: int
    key: str
    http: httpx.AsyncClient

    def openai(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.base_url}/v1", api_key=self.key, max_retries=0)


@contextlib.asynccontextmanager
async def trialist(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    log_flush_seconds: float = 0.05,
    **trial: Any,
) -> AsyncIterator[Trialist]:
    user_id, key = await add_funded_user(engine, "try@example.com", "0")
    settings = gateway_settings(
        database_url,
        upstream,
        trial={"credits": "10", "days": 3, **trial},
        log_flush_seconds=log_flush_seconds,
    )
    async with (
        serve(settings) as (base_url, state),
        httpx.AsyncClient(base_url=base_url, headers=bearer(key), timeout=30) as http,
    ):
        yield Trialist(base_url, state, engine, user_id, key, http)


async def test_a_trial_starts_once_and_shows_its_state(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with trialist(database_url, engine, upstream) as t:
        offer = (await t.http.get("/user/trial")).json()
        assert offer == {"status": "available", "credits": "10", "days": 3.0}

        started = await t.http.post("/user/trial")
        assert started.status_code == 201
        again = await t.http.post("/user/trial")
        assert again.status_code == 409 and "already had a free trial" in error_of(again)["message"]

        shown = (await t.http.get("/user/trial")).json()
        assert (shown["status"], shown["credits"], shown["removed_credits"]) == (
            "active",
            "10",
            None,
        )
        expires = datetime.fromisoformat(shown["expires_at"])
        assert expires - datetime.fromisoformat(shown["started_at"]) == timedelta(days=3)
        assert (await t.http.get("/user/balance")).json()["credits"] == "10"


async def test_a_gateway_without_trials_says_so(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with trialist(database_url, engine, upstream, enabled=False) as t:
        assert (await t.http.get("/user/trial")).json()["status"] == "unavailable"
        refused = await t.http.post("/user/trial")
        assert refused.status_code == 403 and "no free trial" in error_of(refused)["message"]


async def test_the_trials_models_and_rate_limits_apply_while_it_runs(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with trialist(database_url, engine, upstream, rpm=2, models=["fake/fake-model"]) as t:
        await t.http.post("/user/trial")
        client = t.openai()
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.chat.completions.create(model="fake-no-usage", messages=HI)  # type: ignore[arg-type]
        assert "free trial" in refused.value.message and "fake-no-usage" in refused.value.message

        for _ in range(2):
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]


async def test_an_expired_trials_credits_are_gone_before_the_task_runs(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    # Charges wait a minute to be written, so the second call's is still queued when the
    # third call meets the expired trial: the trial is settled after it all the same.
    async with trialist(
        database_url, engine, upstream, log_flush_seconds=60, models=["fake/fake-model"]
    ) as t:
        await t.http.post("/user/trial")
        client = t.openai()
        await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        await settle_now(t.state)
        (usage,) = await ledger_rows(engine, t.user_id, "usage")
        await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        assert len(await ledger_rows(engine, t.user_id, "usage")) == 1  # the second is queued
        await move_trial_back(engine, t.user_id, EXPIRED)
        await t.state.entitlements.reload()  # the cache's refresh: it now knows the new expiry

        with pytest.raises(openai.APIStatusError) as refused:
            await client.chat.completions.create(model="fake-no-usage", messages=HI)  # type: ignore[arg-type]
        assert refused.value.status_code == 402

        await settle_now(t.state)
        (removed,) = await ledger_rows(engine, t.user_id, "trial_expired")
        balance, total = await balance_and_ledger_sum(engine, t.user_id)
        assert balance == total == 0
        spent = [amount for amount, _ in await ledger_rows(engine, t.user_id, "usage")]
        assert usage[0] in spent and removed[0] == -(10 * 10**9 + sum(spent))
        shown = (await t.http.get("/user/trial")).json()
        assert shown["status"] == "expired" and shown["ended_at"] is not None


async def test_the_task_settles_an_expired_trial_and_paid_credits_stay(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with trialist(database_url, engine, upstream) as t:
        await t.http.post("/user/trial")
        await trials.expire_trial(engine, t.user_id, datetime.now(UTC))  # not due: no change
        await add_paid(engine, t.user_id)
        await move_trial_back(engine, t.user_id, EXPIRED)

        await t.state.billing_tasks.run_once()

        assert (await t.http.get("/user/balance")).json()["credits"] == "2.5"
        shown = (await t.http.get("/user/trial")).json()
        assert (shown["status"], shown["removed_credits"]) == ("expired", "10")


async def add_paid(engine: AsyncEngine, user_id: int) -> None:
    await ledger.change_credits(
        engine, user_id, 25 * 10**8, kind="purchase", reason="t", idempotency_key="paid"
    )


async def test_credits_set_aside_for_calls_are_not_spendable_after_the_task_settles_the_trial(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with trialist(database_url, engine, upstream) as t:
        await t.http.post("/user/trial")
        client = t.openai()
        await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        await move_trial_back(engine, t.user_id, EXPIRED)

        await t.state.billing_tasks.run_once()

        with pytest.raises(openai.APIStatusError) as refused:
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        assert refused.value.status_code == 402

"""An upstream that bills past the limits it was sent: the call is charged in full (the ledger
never under-records), the part its hold did not cover is recorded as a shortfall that admins
see (ledger, /admin/shortfalls, metrics, one log line), and the user's next call is refused
with 402 until a credit pays the debt; a key with a spending limit is charged in full too and
refused with 403 until its limit is raised."""

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger
from gatewayz.settings import Settings
from gatewayz.store.tables import api_keys
from tests.conftest import SECRET
from tests.e2e.conftest import Stack, e2e_settings, running_stack, with_fake_models
from tests.e2e.support import HI, REPLY, Caller, assert_openai_error, cost_units, sse_data
from tests.fakes.openai_upstream import OVERBILL_TOKENS, FakeOpenAIUpstream

CHAT = "/v1/chat/completions"
JSON = {"content-type": "application/json"}
OVERBILL_COST = cost_units(3, OVERBILL_TOKENS)  # 8.000006 credits for 10 tokens asked


def _settings(url: str, upstream: FakeOpenAIUpstream) -> Settings:
    settings = e2e_settings(url, upstream, slow_models=("fake-overbill",))
    return with_fake_models(
        settings, **{"fake-free": {"input_price_per_mtok": 0, "output_price_per_mtok": 0}}
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The e2e gateway, plus `fake-overbill` and a free model, `fake-free`."""
    async with running_stack(request.param, tmp_path_factory.mktemp("short"), _settings) as made:
        yield made


def credits(units: int) -> str:
    return f"{Decimal(units).scaleb(-9).normalize():f}"


def body_of(model: str, **fields: Any) -> bytes:
    return orjson.dumps({"model": model, "messages": HI, **fields})


def hold_of(body: bytes, output_tokens: int) -> int:
    """The worst case the gateway holds for a text-only chat body (see test_worst_case)."""
    return cost_units(len(body), output_tokens)


async def call(http: httpx.AsyncClient, body: bytes) -> httpx.Response:
    if not orjson.loads(body).get("stream"):
        return await http.post(CHAT, content=body, headers=JSON)
    async with http.stream("POST", CHAT, content=body, headers=JSON) as response:
        if response.status_code == 200:
            events = await sse_data(response)
            assert events[-1] == "[DONE]"
            text = "".join(
                e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"]
            )
            assert text == REPLY
        else:
            await response.aread()
        return response


async def shortfall_metric(base_url: str) -> float:
    async with httpx.AsyncClient(base_url=base_url) as http:
        text = (await http.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gatewayz_shortfall_credits_total":
                assert sample.labels == {"provider": "fake"}
                return sample.value
    return 0.0


async def admin_client(stack: Stack, email: str) -> httpx.AsyncClient:
    admin = await accounts.create_user(stack.engine, email, role="admin")
    key = await accounts.create_key(stack.engine, SECRET.encode(), admin.id, "ops")
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=20)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_shortfall_is_charged_recorded_and_blocks_the_next_call_until_paid(
    stack: Stack, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caller: Caller = await stack.caller(credits="1")
    body = body_of("fake-overbill", max_tokens=10, stream=stream)
    held = hold_of(body, 10)
    metric_before = await shortfall_metric(stack.base_url)
    with caplog.at_level(logging.WARNING, logger="gatewayz"):
        async with caller.http() as http:
            response = await call(http, body)
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]

    (log,) = await caller.logs(1)
    assert log["cost_units"] == OVERBILL_COST, "charged in full, not capped at the balance"
    (row,) = await caller.usage_rows()
    assert row["amount_units"] == -OVERBILL_COST
    assert row["shortfall_units"] == OVERBILL_COST - held
    assert row["balance_after_units"] == caller.start_units - OVERBILL_COST < 0
    user = await caller.user()
    assert user.balance_units == caller.start_units - OVERBILL_COST
    assert user.reserved_units == 0

    lines = [r for r in caplog.records if "shortfall" in r.getMessage()]
    assert len(lines) == 1
    line = lines[0].getMessage()
    for fact in (request_id, f"user {caller.user_id}", f"key {caller.key_id}", "provider fake"):
        assert fact in line
    assert "fake-overbill" in line
    assert f"held {credits(held)}" in line and f"cost {credits(OVERBILL_COST)}" in line
    assert caller.api_key not in line
    assert await shortfall_metric(stack.base_url) == pytest.approx(
        metric_before + (OVERBILL_COST - held) / 10**9
    )

    async with await admin_client(stack, f"ops-{caller.user_id}@example.com") as admin:
        listed = await admin.get("/admin/shortfalls", params={"user_id": caller.user_id})
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()["data"]
    assert entry["request_id"] == request_id
    assert entry["user_id"] == caller.user_id
    assert entry["shortfall"] == credits(OVERBILL_COST - held)
    assert entry["amount"] == credits(-OVERBILL_COST)
    assert entry["balance_after"] == credits(caller.start_units - OVERBILL_COST)

    async with caller.http() as http:
        transactions = (await http.get("/user/transactions", params={"kind": "usage"})).json()
        assert transactions["data"][0]["shortfall"] == credits(OVERBILL_COST - held)
        before = len(stack.upstream.requests)
        for model in ("fake-model", "fake-free"):  # a free call too: the debt comes first
            refused = await call(http, body_of(model, max_tokens=10, stream=stream))
            error = assert_openai_error(refused, 402)
            assert "balance" in error["message"]
        assert len(stack.upstream.requests) == before, "nothing was sent upstream"
        await ledger.change_credits(
            stack.engine,
            caller.user_id,
            10 * 10**9,
            kind="grant",
            reason="pays the debt",
            idempotency_key=f"test:debt:{caller.user_id}",
        )
        assert (
            await call(http, body_of("fake-model", max_tokens=10, stream=stream))
        ).status_code == 200
    await caller.logs(2)
    assert (await caller.user()).balance_units > 0


async def test_a_key_is_charged_in_full_past_its_limit_and_refused_until_raised(
    stack: Stack, caller: Caller
) -> None:
    async with caller.http() as http:
        created = await http.post("/user/api-keys", json={"name": "capped", "spend_limit": "1"})
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]
    body = body_of("fake-overbill", max_tokens=10)
    held = hold_of(body, 10)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=20) as http:
        assert (await call(http, body)).status_code == 200
        await caller.logs(1)
        async with caller.engine.connect() as conn:
            spent = await conn.scalar(select(api_keys.c.spent_units).where(api_keys.c.id == key_id))
        assert spent == OVERBILL_COST, "the key counts the full cost, past its limit"
        (row,) = await caller.usage_rows()
        assert row["shortfall_units"] == OVERBILL_COST - held
        refused = await call(http, body_of("fake-free", max_tokens=10))
        assert assert_openai_error(refused, 403)["code"] == "key_spend_limit"
        async with caller.http() as own:  # the user's balance still covers their other key
            assert (await call(own, body_of("fake-model", max_tokens=10))).status_code == 200
            raised = await own.patch(f"/user/api-keys/{key_id}", json={"spend_limit": "100"})
            assert raised.status_code == 200, raised.text
        assert (await call(http, body_of("fake-model", max_tokens=10))).status_code == 200
    await caller.logs(3)
    assert (
        await caller.user()
    ).balance_units == caller.start_units - OVERBILL_COST - 2 * cost_units(3, 5)

"""A client that hangs up on an unstreamed call: the attempt already sent upstream runs to its
end and is billed what the upstream reports (logged 499); nothing else starts; a call with
nothing in flight stops at once and costs nothing. Streams are covered in test_cut_streams.py."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gatewayz.store.tables import request_logs
from tests.conftest import serve
from tests.e2e.conftest import Stack, e2e_settings, running_stack
from tests.e2e.support import HI, HI_COST, REPLY_TOKENS, Caller
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CHAT = "/v1/chat/completions"
LATE = ("fake-slow-100", "fake-late-600", "fake-late-3000", "fake-late-error-600")
ROUTING = {
    "max_attempts": 3,
    "breaker_failures": 1_000_000,
    "models": {"late-pair": {"candidates": ["fake/fake-late-error-600", "fake/fake-model"]}},
}


def _settings(url: str, upstream: FakeOpenAIUpstream) -> Any:
    return e2e_settings(url, upstream, slow_models=LATE, routing=ROUTING)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(request.param, tmp_path_factory.mktemp("cancel"), _settings) as made:
        yield made


@pytest.fixture
async def caller(stack: Stack) -> Caller:
    return await stack.caller()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def received(upstream: FakeOpenAIUpstream, model: str) -> int:
    """Chat requests for `model` the upstream has received."""
    return sum(
        1 for r in upstream.requests if isinstance(r.json, dict) and r.json.get("model") == model
    )


async def hang_up_once_sent(
    base_url: str, api_key: str, upstream: FakeOpenAIUpstream, body: dict[str, Any], model: str
) -> None:
    """Send `body` and close the connection as soon as the upstream has received it."""
    before = received(upstream, model)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=20) as http:
        call = asyncio.create_task(http.post(CHAT, json=body))
        await until(lambda: received(upstream, model) > before)
        await asyncio.sleep(0.1)  # past the gateway's 50 ms grace: its watch is on
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)


async def test_an_answer_that_arrives_after_the_client_left_is_billed(
    stack: Stack, caller: Caller
) -> None:
    done = stack.upstream.completed.count("fake-late-600")
    body = {"model": "fake/fake-late-600", "messages": HI}
    await hang_up_once_sent(caller.base_url, caller.api_key, stack.upstream, body, "fake-late-600")
    # The upstream was not hung up on: it delivered its answer to the gateway.
    await until(lambda: stack.upstream.completed.count("fake-late-600") > done)
    (log,) = await caller.assert_books(calls=1, charged=HI_COST)
    assert log["status_code"] == 499
    assert (log["input_tokens"], log["output_tokens"]) == (3, REPLY_TOKENS)
    assert log["usage_estimated"] is False
    assert log["cost_units"] == HI_COST
    assert len(await caller.usage_rows()) == 1


async def test_no_other_attempt_starts_after_the_client_left(stack: Stack, caller: Caller) -> None:
    done = stack.upstream.completed.count("fake-late-error-600")
    fallback = received(stack.upstream, "fake-model")
    body = {"model": "late-pair", "messages": HI}
    await hang_up_once_sent(
        caller.base_url, caller.api_key, stack.upstream, body, "fake-late-error-600"
    )
    await until(lambda: stack.upstream.completed.count("fake-late-error-600") > done)
    (log,) = await caller.assert_books(calls=1, charged=0)
    assert log["status_code"] == 499
    assert received(stack.upstream, "fake-model") == fallback, "a fallback was tried"


async def test_a_client_that_leaves_during_failover_backoff_stops_the_call(
    stack: Stack, caller: Caller
) -> None:
    # fake-error-429 asks to retry after 1 s: the client leaves while the gateway waits.
    body = {"model": "fake/fake-error-429", "messages": HI}
    sent = received(stack.upstream, "fake-error-429")
    left = time.monotonic()
    await hang_up_once_sent(caller.base_url, caller.api_key, stack.upstream, body, "fake-error-429")
    (log,) = await caller.assert_books(calls=1, charged=0)
    assert log["status_code"] == 499
    assert time.monotonic() - left < 1.0, "the call did not stop when the client left"
    await asyncio.sleep(1.2)
    assert received(stack.upstream, "fake-error-429") == sent + 1


async def test_a_session_turn_is_not_stored_when_the_client_left(
    stack: Stack, caller: Caller
) -> None:
    async with caller.http() as http:
        created = await http.post("/v1/chat/sessions", json={"title": "left"})
        session_id = created.json()["id"]
    done = stack.upstream.completed.count("fake-late-600")
    body = {"model": "fake/fake-late-600", "messages": HI, "session_id": session_id}
    await hang_up_once_sent(caller.base_url, caller.api_key, stack.upstream, body, "fake-late-600")
    await until(lambda: stack.upstream.completed.count("fake-late-600") > done)
    (log,) = await caller.assert_books(calls=1, charged=HI_COST)
    assert log["status_code"] == 499
    async with caller.http() as http:
        session = (await http.get(f"/v1/chat/sessions/{session_id}")).json()
    assert session["messages"] == [], "a retry would send the prompt twice"


async def test_calls_still_running_are_cancelled_past_the_drain_bound(
    stack: Stack, caller: Caller
) -> None:
    body = {"model": "fake/fake-late-3000", "messages": HI}
    await hang_up_once_sent(caller.base_url, caller.api_key, stack.upstream, body, "fake-late-3000")
    outliving = stack.services.relay.outliving
    await until(lambda: outliving.running == 1)  # the gateway has seen its client leave
    started = time.monotonic()
    await outliving.drain(0.1)
    assert time.monotonic() - started < 1.0
    (log,) = await caller.assert_books(calls=1, charged=0)  # and nothing is left on hold
    assert log["status_code"] == 499


async def test_shutdown_waits_for_the_bill_of_a_call_whose_client_left(
    stack: Stack, caller: Caller
) -> None:
    done = stack.upstream.completed.count("fake-late-600")
    body = {"model": "fake/fake-late-600", "messages": HI}
    # A second gateway on the same database, stopped as soon as its client has left.
    async with serve(_settings(stack.database_url, stack.upstream)) as (base_url, _):
        await hang_up_once_sent(base_url, caller.api_key, stack.upstream, body, "fake-late-600")
    assert stack.upstream.completed.count("fake-late-600") == done + 1
    # What it settled on the way out is in the database, and it holds nothing any more.
    async with stack.engine.connect() as conn:
        (log,) = (
            (
                await conn.execute(
                    select(request_logs).where(request_logs.c.user_id == caller.user_id)
                )
            )
            .mappings()
            .all()
        )
    user = await caller.user()
    assert (log["status_code"], log["cost_units"]) == (499, HI_COST)
    assert (user.reserved_units, user.balance_units) == (0, caller.start_units - HI_COST)

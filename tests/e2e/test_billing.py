"""Money through the whole path: exact charges, estimates when usage is missing, settlement
however a call ends. After every scenario the balance equals the grant minus the ledger's
charges and nothing stays on hold."""

import asyncio
import math
import time

import openai
import orjson
import pytest
from sqlalchemy import event

from gatewayz.telemetry.context import current
from tests.e2e.conftest import Stack
from tests.e2e.support import (
    HI,
    HI_COST,
    REPLY,
    REPLY_TOKENS,
    Caller,
    assert_openai_error,
    cost_units,
    sse_data,
)

CHAT = "/v1/chat/completions"


def estimated_output(pieces: list[str]) -> int:
    """The documented estimate of output tokens when the upstream reports none: the larger of
    the number of pieces of generated text (stream deltas) and their UTF-8 bytes / 4, rounded
    up."""
    pieces = [piece for piece in pieces if piece]
    return max(len(pieces), math.ceil(sum(len(piece.encode()) for piece in pieces) / 4))


def estimated_cost(body: bytes, delivered: list[str]) -> int:
    """The documented fallback when the upstream reports no usage: about four bytes of
    request per input token, and the estimate of the generated text delivered."""
    return cost_units(max(1, len(body) // 4), estimated_output(delivered))


def _body(model: str, **extra: object) -> bytes:
    return orjson.dumps({"model": model, "messages": HI, **extra})


async def test_every_outcome_is_charged_exactly_and_the_books_balance(caller: Caller) -> None:
    client = caller.client()
    await client.chat.completions.create(model="fake/fake-model", messages=HI)  # 46_000
    stream = await client.chat.completions.create(
        model="fake-model", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    async for _ in stream:  # 46_000
        pass
    long_prompt = [{"role": "system", "content": "be very brief"}, *HI]  # 6 words
    await client.chat.completions.create(model="fake-model", messages=long_prompt)
    for model in ("fake-error-500", "fake-error-429", "fake-error-400", "fake-garbage"):
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(model=model, messages=HI)
    with pytest.raises(openai.APIStatusError) as refused:
        await client.chat.completions.create(model="fake-model", messages=HI, max_tokens=10**7)
    assert refused.value.status_code == 402
    expected = 2 * HI_COST + cost_units(6, REPLY_TOKENS)
    logs = await caller.assert_books(calls=7, charged=expected)  # the 402 never started a call
    assert [log["cost_units"] for log in logs] == [HI_COST, HI_COST, cost_units(6, 5), 0, 0, 0, 0]
    usage = await caller.usage_rows()
    assert [-row["amount_units"] for row in usage] == [HI_COST, HI_COST, cost_units(6, 5)]
    assert {row["request_id"] for row in usage} == {log["request_id"] for log in logs[:3]}
    assert usage[-1]["balance_after_units"] == caller.start_units - expected

    async with caller.http() as http:
        balance = (await http.get("/user/balance")).json()
    assert balance["credits"] == "9.999856"  # 10 - 144_000 / 10**9
    assert balance["reserved"] == "0"


async def test_a_charge_is_held_while_the_call_runs_and_released_after(caller: Caller) -> None:
    client = caller.client()
    call = asyncio.create_task(
        client.chat.completions.create(model="fake-slow-100", messages=HI, max_tokens=1000)
    )
    deadline = time.monotonic() + 2
    while (held := (await caller.user()).reserved_units) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    # worst case: every request byte an input token, and max_tokens output tokens
    assert held >= cost_units(1, 1000)
    async with caller.http() as http:
        during = (await http.get("/user/balance")).json()
    assert during["credits"] == "10"
    assert during["available"] != "10"
    answer = await call
    assert answer.choices[0].message.content == REPLY
    await caller.assert_books(calls=1, charged=HI_COST)


async def test_truncated_stream_raises_in_the_sdk_and_charges_what_was_delivered(
    caller: Caller,
) -> None:
    stream = await caller.client().chat.completions.create(
        model="fake-truncate", messages=HI, stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as raised:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "fake" in raised.value.message
    delivered = "".join(received)
    assert REPLY.startswith(delivered) and delivered != REPLY
    (log,) = await caller.logs(1)
    assert log["status_code"] == 502
    assert log["usage_estimated"] is True
    assert log["output_tokens"] == estimated_output(received)
    assert log["cost_units"] == cost_units(log["input_tokens"], log["output_tokens"])
    assert log["cost_units"] > 0
    await caller.assert_books(calls=1, charged=log["cost_units"])


async def test_truncated_stream_ends_with_an_error_event_and_exact_estimate(
    caller: Caller,
) -> None:
    body = _body("fake-truncate", stream=True)
    async with (
        caller.http() as http,
        http.stream("POST", CHAT, content=body, headers={"content-type": "application/json"}) as r,
    ):
        events = await sse_data(r)
    assert "[DONE]" not in events
    *chunks, error = events
    assert "fake" in error["error"]["message"]
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert chunks, "what arrived before the upstream broke off is forwarded"
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in chunks]
    delivered = "".join(pieces)
    assert REPLY.startswith(delivered) and delivered != REPLY
    await caller.assert_books(calls=1, charged=estimated_cost(body, pieces))


async def test_no_usage_from_upstream_is_charged_an_estimate_streamed_or_not(
    caller: Caller,
) -> None:
    plain = _body("fake-no-usage")
    streamed = _body("fake-no-usage", stream=True)
    headers = {"content-type": "application/json"}
    async with caller.http() as http:
        answer = await http.post(CHAT, content=plain, headers=headers)
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"] == REPLY
        async with http.stream("POST", CHAT, content=streamed, headers=headers) as r:
            events = await sse_data(r)
    assert events[-1] == "[DONE]"
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in events[:-1]]
    assert "".join(pieces) == REPLY
    # The same answer costs the same estimate whether it was streamed or not.
    expected = [estimated_cost(plain, [REPLY]), estimated_cost(streamed, pieces)]
    logs = await caller.assert_books(calls=2, charged=sum(expected))
    assert [log["cost_units"] for log in logs] == expected
    assert all(log["usage_estimated"] for log in logs)
    assert logs[0]["output_tokens"] == logs[1]["output_tokens"] == estimated_output([REPLY])


async def test_failed_upstream_calls_charge_nothing(caller: Caller) -> None:
    client = caller.client()
    for model in ("fake-error-500", "fake-error-429", "fake-error-400", "fake-garbage"):
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError):
                await client.chat.completions.create(model=model, messages=HI, stream=stream)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="fake-truncate", messages=HI)
    logs = await caller.assert_books(calls=9, charged=0)
    assert all(log["status_code"] >= 400 and log["error"] for log in logs)
    assert await caller.usage_rows() == []


async def test_a_client_retrying_without_credit_costs_the_database_almost_nothing(
    stack: Stack,
) -> None:
    """A refusal for want of credit is remembered for a second (billing.holds): retries in
    that second are refused without trying to reserve credit again."""
    poor = await stack.caller(credits="0.00001")
    reservations: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if current() is not None and "reserved_units +" in statement:  # a lease growth
            reservations.append(statement)

    engine = stack.services.engine.sync_engine
    retries = 20
    async with poor.http() as http:
        first = await http.post(CHAT, json={"model": "fake-model", "messages": HI})
        assert_openai_error(first, 402)
        event.listen(engine, "before_cursor_execute", count)
        started = time.monotonic()
        try:
            for _ in range(retries):
                again = await http.post(CHAT, json={"model": "fake-model", "messages": HI})
                assert_openai_error(again, 402)
                assert again.json()["error"]["message"] == first.json()["error"]["message"]
        finally:
            event.remove(engine, "before_cursor_execute", count)
    windows = math.ceil(time.monotonic() - started) + 1  # seconds the retries took, and one
    assert len(reservations) <= min(windows, retries - 1), reservations


async def test_unaffordable_call_holds_and_charges_nothing(stack: Stack) -> None:
    poor = await stack.caller(credits="0.00001")
    async with poor.http() as http:
        response = await http.post(CHAT, json={"model": "fake-model", "messages": HI})
        assert_openai_error(response, 402)
        balance = (await http.get("/user/balance")).json()
    assert balance["credits"] == "0.00001"
    assert balance["reserved"] == "0"
    await poor.assert_books(calls=0, charged=0)


async def test_client_disconnect_mid_stream_cancels_the_upstream_and_settles(
    caller: Caller,
) -> None:
    upstream_server = caller.upstream._runner.server  # aiohttp's server: its open connections

    def upstream_busy() -> int:
        """Upstream connections serving a request that the gateway has not hung up on."""
        return sum(
            1
            for c in upstream_server.connections
            if c._current_request is not None and c.transport and not c.transport.is_closing()
        )

    body = {"model": "fake-slow-2000", "messages": HI, "stream": True}
    started = time.monotonic()
    async with caller.http() as http, http.stream("POST", CHAT, json=body) as response:
        assert response.status_code == 200
        first = await anext(response.aiter_bytes())
        assert first.startswith(b"data: ")
        assert upstream_busy() == 1  # the upstream would send the rest over the next ~14 s
        assert (await caller.user()).reserved_units > 0
    # Leaving the block closed the connection with the stream half read.
    deadline = time.monotonic() + 1  # the upstream's next event is due in 2 s
    while upstream_busy() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert upstream_busy() == 0, "the upstream request was not cancelled"
    (log,) = await caller.logs(1)
    assert log["status_code"] == 499
    assert log["stream"] is True
    assert log["ttft_ms"] is not None and log["ttft_ms"] >= 1900
    assert log["latency_ms"] < (time.monotonic() - started) * 1000 + 100
    assert log["cost_units"] == cost_units(log["input_tokens"], log["output_tokens"])
    await caller.assert_books(calls=1, charged=log["cost_units"])

"""The request log: one row per call, saying who called what, what it cost and how long it took."""

import openai
import pytest

from gatewayz.accounts import users as accounts
from tests.conftest import SECRET
from tests.e2e.support import HI, HI_COST, REPLY_TOKENS, Caller


async def test_a_non_streamed_call_is_logged_with_its_usage_and_latency(caller: Caller) -> None:
    raw = await caller.client().chat.completions.with_raw_response.create(
        model="fake/fake-slow-100", messages=HI
    )
    raw.parse()
    (log,) = await caller.assert_books(calls=1, charged=HI_COST)
    assert log["request_id"] == raw.headers["x-request-id"]
    assert (log["user_id"], log["key_id"]) == (caller.user_id, caller.key_id)
    assert log["api"] == "chat.completions"
    assert log["model"] == "fake/fake-slow-100"
    assert (log["provider"], log["provider_model"]) == ("fake", "fake-slow-100")
    assert log["stream"] is False
    assert (log["status_code"], log["error"]) == (200, None)
    assert (log["input_tokens"], log["output_tokens"]) == (3, REPLY_TOKENS)
    assert log["usage_estimated"] is False
    assert log["cost_units"] == HI_COST
    assert 100 <= log["latency_ms"] < 5_000  # the upstream took 100 ms
    assert log["ttft_ms"] is None
    assert log["created_at"] is not None


async def test_a_streamed_call_is_logged_with_time_to_first_token(caller: Caller) -> None:
    client = caller.client()
    stream = await client.chat.completions.create(model="fake-slow-100", messages=HI, stream=True)
    request_id = stream.response.headers["x-request-id"]
    async for _ in stream:
        pass
    (log,) = await caller.assert_books(calls=1, charged=HI_COST)
    assert log["request_id"] == request_id
    assert (log["user_id"], log["key_id"]) == (caller.user_id, caller.key_id)
    assert (log["model"], log["provider"], log["provider_model"]) == (
        "fake-slow-100",
        "fake",
        "fake-slow-100",
    )
    assert log["stream"] is True
    assert log["status_code"] == 200
    assert (log["input_tokens"], log["output_tokens"]) == (3, REPLY_TOKENS)
    assert log["cost_units"] == HI_COST
    # The first event comes after 100 ms, then one every 100 ms: six more after it.
    assert 100 <= log["ttft_ms"] < 2_000
    assert log["latency_ms"] >= log["ttft_ms"] + 500


@pytest.mark.parametrize(
    ("model", "stream", "status"),
    [
        ("fake-error-500", False, 502),
        ("fake-error-429", True, 429),
        ("fake-error-400", False, 400),
    ],
)
async def test_a_failed_call_is_logged_with_its_status_provider_and_no_cost(
    caller: Caller, model: str, stream: bool, status: int
) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        await caller.client().chat.completions.create(model=model, messages=HI, stream=stream)
    (log,) = await caller.assert_books(calls=1, charged=0)
    assert log["request_id"] == raised.value.request_id
    assert log["status_code"] == status == raised.value.status_code
    assert (log["provider"], log["provider_model"]) == ("fake", model)
    assert log["error"] and "fake" in log["error"]
    assert (log["input_tokens"], log["output_tokens"], log["cost_units"]) == (0, 0, 0)
    assert log["stream"] is stream


async def test_each_key_of_a_user_is_logged_as_the_key_that_called(caller: Caller) -> None:
    second_key = await accounts.create_key(caller.engine, SECRET.encode(), caller.user_id, "ci")
    second_id = max(k.id for k in await accounts.list_keys(caller.engine, caller.user_id))
    await caller.client().chat.completions.create(model="fake-model", messages=HI)
    await caller.client(api_key=second_key).chat.completions.create(model="fake-model", messages=HI)
    first, second = await caller.assert_books(calls=2, charged=2 * HI_COST)
    assert (first["key_id"], second["key_id"]) == (caller.key_id, second_id)
    assert first["request_id"] != second["request_id"]

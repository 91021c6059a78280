"""Errors as the OpenAI SDK sees them: status, exception class, the four fields, request id.

A call the gateway refuses or the upstream fails costs nothing.
"""

import asyncio

import httpx
import openai
import pytest

from gatewayz.accounts import users as accounts
from tests.conftest import serve
from tests.e2e.conftest import Stack, e2e_settings
from tests.e2e.support import HI, HI_COST, REPLY, Caller, assert_openai_error

CHAT = "/v1/chat/completions"


# --- authentication ------------------------------------------------------------------------


async def test_wrong_key_is_an_authentication_error(caller: Caller) -> None:
    before = len(caller.upstream.requests)
    client = caller.client(api_key="gw_live_not-a-real-key")
    with pytest.raises(openai.AuthenticationError) as raised:
        await client.chat.completions.create(model="fake-model", messages=HI)
    assert raised.value.status_code == 401
    assert raised.value.request_id and raised.value.request_id.startswith("req_")
    error = assert_openai_error(raised.value.response, 401)
    assert error["type"] == "authentication_error"
    assert "gw_live_not-a-real-key" not in raised.value.response.text  # keys are never echoed
    assert len(caller.upstream.requests) == before


async def test_missing_key_is_401_and_says_how_to_send_one(caller: Caller) -> None:
    async with httpx.AsyncClient(base_url=caller.base_url) as http:
        response = await http.post(CHAT, json={"model": "fake-model", "messages": HI})
    error = assert_openai_error(response, 401)
    assert "Authorization" in error["message"]


async def test_key_in_x_api_key_header_works(caller: Caller) -> None:
    async with httpx.AsyncClient(base_url=caller.base_url) as http:
        response = await http.post(
            CHAT,
            json={"model": "fake-model", "messages": HI},
            headers={"x-api-key": caller.api_key},
        )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == REPLY
        wrong = await http.post(
            CHAT, json={"model": "fake-model", "messages": HI}, headers={"x-api-key": "nope"}
        )
    assert_openai_error(wrong, 401)
    (log,) = await caller.assert_books(calls=1, charged=HI_COST)
    assert log["key_id"] == caller.key_id


async def test_revoked_key_is_refused_once_the_auth_cache_expires(stack: Stack) -> None:
    settings = e2e_settings(stack.database_url, stack.upstream, auth_cache_seconds=0.2)
    async with serve(settings) as (base_url, _state):
        caller = await stack.caller()
        client = openai.AsyncOpenAI(
            base_url=base_url + "/v1", api_key=caller.api_key, max_retries=0
        )
        answer = await client.chat.completions.create(model="fake-model", messages=HI)
        assert answer.choices[0].message.content == REPLY
        await accounts.revoke_key(stack.engine, caller.user_id, caller.key_id)
        await asyncio.sleep(0.3)
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.chat.completions.create(model="fake-model", messages=HI)
        assert_openai_error(raised.value.response, 401)
        async with httpx.AsyncClient(base_url=base_url) as http:
            balance = await http.get(
                "/user/balance", headers={"Authorization": f"Bearer {caller.api_key}"}
            )
        assert_openai_error(balance, 401)


# --- requests the gateway refuses before calling the upstream --------------------------------


async def test_unknown_model_is_not_found_and_names_the_model(caller: Caller) -> None:
    before = len(caller.upstream.requests)
    with pytest.raises(openai.NotFoundError) as raised:
        await caller.client().chat.completions.create(model="nope/missing-model", messages=HI)
    assert "nope/missing-model" in raised.value.message
    error = assert_openai_error(raised.value.response, 404)
    assert error["param"] == "model"
    assert error["code"] == "model_not_found"
    assert len(caller.upstream.requests) == before
    await caller.assert_books(calls=0, charged=0)


async def test_missing_messages_is_400_naming_the_field(caller: Caller) -> None:
    before = len(caller.upstream.requests)
    with pytest.raises(openai.BadRequestError) as raised:
        await caller.client().post(
            "/chat/completions", body={"model": "fake-model"}, cast_to=object
        )
    error = assert_openai_error(raised.value.response, 400)
    assert error["param"] == "messages"
    assert error["type"] == "invalid_request_error"
    assert len(caller.upstream.requests) == before


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "fake-model", "messages": []}, "messages"),
        ({"messages": HI}, "model"),
        ({"model": "fake-model", "messages": [{"content": "no role"}]}, "messages.0.role"),
        ({"model": "fake-model", "messages": HI, "max_tokens": 0}, "max_tokens"),
        ({"model": "fake-model", "messages": HI, "stream": "yes"}, "stream"),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(
    caller: Caller, body: dict[str, object], param: str
) -> None:
    before = len(caller.upstream.requests)
    async with caller.http() as http:
        response = await http.post(CHAT, json=body)
    assert assert_openai_error(response, 400)["param"] == param
    assert len(caller.upstream.requests) == before


async def test_body_that_is_not_json_is_400(caller: Caller) -> None:
    async with caller.http() as http:
        response = await http.post(
            CHAT,
            content=b'{"model": "fake-model", "messages": [',
            headers={"content-type": "application/json"},
        )
    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]
    await caller.assert_books(calls=0, charged=0)


async def test_unaffordable_call_is_402_before_anything_reaches_the_upstream(
    stack: Stack,
) -> None:
    poor = await stack.caller(credits="0.00001")  # 10_000 units: less than one 4096-token reply
    before = len(stack.upstream.requests)
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as raised:
            await poor.client().chat.completions.create(
                model="fake-model", messages=HI, stream=stream
            )
        assert raised.value.status_code == 402
        error = assert_openai_error(raised.value.response, 402)
        assert error["code"] == "insufficient_credits"
        assert "max_tokens" in error["message"]
    assert len(stack.upstream.requests) == before
    await poor.assert_books(calls=0, charged=0)


async def test_max_tokens_beyond_the_balance_is_402_and_a_smaller_one_is_served(
    caller: Caller,
) -> None:
    before = len(caller.upstream.requests)
    client = caller.client()
    # 10 credits cover about 1.25 million output tokens at 8 credits per million.
    with pytest.raises(openai.APIStatusError) as raised:
        await client.chat.completions.create(model="fake-model", messages=HI, max_tokens=2_000_000)
    assert raised.value.status_code == 402
    assert_openai_error(raised.value.response, 402)
    assert len(caller.upstream.requests) == before
    answer = await client.chat.completions.create(
        model="fake-model", messages=HI, max_tokens=1_000_000
    )
    assert answer.choices[0].message.content == REPLY
    assert caller.upstream.requests[-1].json["max_tokens"] == 1_000_000
    await caller.assert_books(calls=1, charged=HI_COST)


# --- upstream failures ----------------------------------------------------------------------


async def test_upstream_500_is_a_502_naming_the_provider_and_costs_nothing(
    caller: Caller,
) -> None:
    client = caller.client()
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as raised:
            await client.chat.completions.create(
                model="fake/fake-error-500", messages=HI, stream=stream
            )
        assert raised.value.status_code == 502
        assert "fake" in raised.value.message
        assert_openai_error(raised.value.response, 502)
    logs = await caller.assert_books(calls=2, charged=0)
    assert [log["status_code"] for log in logs] == [502, 502]
    assert all(log["provider"] == "fake" and log["error"] for log in logs)


async def test_upstream_429_is_a_rate_limit_error_with_retry_after(caller: Caller) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        await caller.client().chat.completions.create(model="fake-error-429", messages=HI)
    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"] == "1"
    assert "fake" in raised.value.message
    assert_openai_error(raised.value.response, 429)
    (log,) = await caller.assert_books(calls=1, charged=0)
    assert log["status_code"] == 429


async def test_upstream_400_is_a_bad_request_with_the_upstream_reason(caller: Caller) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await caller.client().chat.completions.create(model="fake-error-400", messages=HI)
    assert "fake: " in raised.value.message
    assert "rejected this request" in raised.value.message
    assert_openai_error(raised.value.response, 400)
    await caller.assert_books(calls=1, charged=0)


async def test_upstream_garbage_is_a_502(caller: Caller) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        await caller.client().chat.completions.create(model="fake-garbage", messages=HI)
    assert raised.value.status_code == 502
    assert "fake" in raised.value.message
    assert_openai_error(raised.value.response, 502)
    await caller.assert_books(calls=1, charged=0)


async def test_upstream_garbage_as_first_stream_event_is_a_502_before_the_stream(
    caller: Caller,
) -> None:
    # Nothing has been sent to the client yet, so the gateway can still answer with a status.
    with pytest.raises(openai.InternalServerError) as raised:
        await caller.client().chat.completions.create(
            model="fake-garbage", messages=HI, stream=True
        )
    assert raised.value.status_code == 502
    assert "fake" in raised.value.message
    assert_openai_error(raised.value.response, 502)
    (log,) = await caller.assert_books(calls=1, charged=0)
    assert log["status_code"] == 502 and log["stream"] is True


async def test_upstream_truncated_answer_is_a_502(caller: Caller) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        await caller.client().chat.completions.create(model="fake-truncate", messages=HI)
    assert "fake" in raised.value.message
    assert_openai_error(raised.value.response, 502)
    await caller.assert_books(calls=1, charged=0)


async def test_a_body_that_is_not_json_is_a_400_saying_so(caller: Caller) -> None:
    async with httpx.AsyncClient(base_url=caller.base_url) as http:
        response = await http.post(
            "/v1/chat/sessions",
            content=b'{"title": ',
            headers={
                "Authorization": f"Bearer {caller.api_key}",
                "content-type": "application/json",
            },
        )
    error = assert_openai_error(response, 400)
    assert error["message"].startswith("The request body is not valid JSON")
    assert error["param"] is None

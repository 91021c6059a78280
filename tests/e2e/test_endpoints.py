"""The endpoints around chat: the model list, the caller's balance, liveness and readiness."""

import httpx

from tests.e2e.support import HI, Caller, assert_openai_error
from tests.openai_spec import validate


async def test_models_are_listed_in_openai_format(caller: Caller) -> None:
    async with caller.http() as http:
        response = await http.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    validate("ListModelsResponse", body)
    ids = [model["id"] for model in body["data"]]
    assert "fake/fake-model" in ids
    assert len(ids) == len(set(ids))
    fake = next(model for model in body["data"] if model["id"] == "fake/fake-model")
    assert fake["owned_by"] == "fake"
    assert fake["pricing"] == {"input_per_mtok": "2", "output_per_mtok": "8"}


async def test_the_sdk_lists_models_and_a_listed_id_can_be_called(caller: Caller) -> None:
    client = caller.client()
    models = [model.id async for model in client.models.list()]
    assert "fake/fake-model" in models
    assert "fake/fake-no-usage" in models
    answer = await client.chat.completions.create(
        model=models[models.index("fake/fake-model")],
        messages=[{"role": "user", "content": "hi"}],
    )
    assert answer.choices[0].message.content


async def test_balance_is_a_decimal_string_of_credits(caller: Caller) -> None:
    async with caller.http() as http:
        before = await http.get("/user/balance")
        await caller.client().chat.completions.create(model="fake-model", messages=HI)
        await caller.logs(1)
        after = (await http.get("/user/balance")).json()
    async with httpx.AsyncClient(base_url=caller.base_url) as anonymous:
        unauthenticated = await anonymous.get("/user/balance")
    assert before.status_code == 200
    assert before.json()["credits"] == "10"
    assert before.json()["user_id"] == caller.user_id
    assert after["credits"] == "9.999954"  # 10 - 46_000 / 10**9
    assert (after["reserved"], after["available"]) == ("0", "9.999954")
    assert_openai_error(unauthenticated, 401)


async def test_health_and_ready(caller: Caller) -> None:
    async with httpx.AsyncClient(base_url=caller.base_url) as http:
        health = await http.get("/health")
        ready = await http.get("/ready")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "rate_limits": {"backend": "memory", "redis": "not configured"},
    }
    assert health.headers["x-request-id"] != ready.headers["x-request-id"]

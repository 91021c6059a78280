"""GET /user/provider-keys, PUT and DELETE /user/provider-keys/{provider}: keys are stored,
replaced and removed per user, and never come back in full, in answers, errors or logs."""

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.providers.spec import ProviderSpec
from gatewayz.store.tables import audit_logs
from tests.conftest import SECRET, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream

KEY = "sk-proj-Byok0123456789abcdefghijWXYZ"
LOCAL = {
    "name": "local",
    "protocol": "openai",
    "base_url": "http://127.0.0.1:1/v1",
    "auth": "none",
    "models": [{"id": "m", "input_price_per_mtok": 1, "output_price_per_mtok": 1}],
}


@dataclass
class Users:
    engine: AsyncEngine
    ana: httpx.AsyncClient
    bob: httpx.AsyncClient


async def _client(base_url: str, engine: AsyncEngine, email: str) -> httpx.AsyncClient:
    user = await accounts.create_user(engine, email)
    key = await accounts.create_key(engine, SECRET.encode(), user.id, "k")
    return httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
async def users(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Users]:
    settings = gateway_settings(database_url, upstream)
    settings = settings.model_copy(update={"providers": [*settings.providers, *_specs(LOCAL)]})
    async with serve(settings) as (base_url, _):
        ana = await _client(base_url, engine, "ana@example.com")
        bob = await _client(base_url, engine, "bob@example.com")
        yield Users(engine, ana, bob)
        await ana.aclose()
        await bob.aclose()


def _specs(*rows: dict[str, object]) -> list[ProviderSpec]:
    return [ProviderSpec.model_validate(row) for row in rows]


async def test_a_key_is_stored_listed_by_hint_replaced_and_deleted(
    users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    created = await users.ana.put("/user/provider-keys/openai", json={"api_key": KEY})
    assert created.status_code == 201, created.text
    assert created.json()["provider"] == "openai"
    assert created.json()["hint"] == "sk-...WXYZ"
    assert created.json()["created_at"].endswith("+00:00")

    replaced = await users.ana.put(
        "/user/provider-keys/openai", json={"api_key": KEY[:-4] + "ABCD"}
    )
    assert replaced.status_code == 200
    assert replaced.json()["hint"] == "sk-...ABCD"
    listed = await users.ana.get("/user/provider-keys")
    assert [(k["provider"], k["hint"]) for k in listed.json()["data"]] == [("openai", "sk-...ABCD")]
    assert (await users.bob.get("/user/provider-keys")).json() == {"data": []}

    deleted = await users.ana.delete("/user/provider-keys/openai")
    assert deleted.json() == {"provider": "openai", "deleted": True}
    assert (await users.ana.get("/user/provider-keys")).json() == {"data": []}
    again = await users.ana.delete("/user/provider-keys/openai")
    assert again.status_code == 404
    assert again.json()["error"]["param"] == "provider"

    answers = [created, replaced, listed, deleted, again]
    assert not any(KEY[8:-4] in answer.text for answer in answers)
    assert KEY[8:-4] not in caplog.text
    async with users.engine.connect() as conn:
        audit = (await conn.execute(select(audit_logs.c.event, audit_logs.c.details))).all()
    assert [event for event, _ in audit] == [
        "provider_key.created",
        "provider_key.replaced",
        "provider_key.deleted",
    ]
    assert KEY[8:-4] not in str(audit)


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("not-a-provider", "not a known provider"),
        ("local", "'local' does not take an API key"),
    ],
)
async def test_only_known_providers_that_take_a_key_accept_one(
    users: Users, provider: str, message: str
) -> None:
    answer = await users.ana.put(f"/user/provider-keys/{provider}", json={"api_key": KEY})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "provider"
    assert message in answer.json()["error"]["message"]


async def test_a_provider_name_with_a_nul_character_is_refused_naming_it(users: Users) -> None:
    for method in ("PUT", "DELETE"):
        answer = await users.ana.request(
            method, "/user/provider-keys/gr%00oq", json={"api_key": KEY}
        )
        assert answer.status_code == 400, (method, answer.text)
        assert answer.json()["error"]["param"] == "provider"


@pytest.mark.parametrize(
    "body",
    [
        {"api_key": "too-short"},
        {"api_key": "sk-proj with spaces 0123456789"},
        {"api_key": 12345678901234567890},
        {},
        {"api_key": KEY, "extra": 1},
    ],
)
async def test_a_malformed_body_is_refused_naming_the_field_never_the_key(
    users: Users, body: dict[str, object]
) -> None:
    answer = await users.ana.put("/user/provider-keys/groq", json=body)
    assert answer.status_code in (400, 422)
    error = answer.json()["error"]
    assert error["param"] in ("api_key", "extra")
    value = body.get("api_key")
    assert not isinstance(value, str) or value not in answer.text
    assert (await users.ana.get("/user/provider-keys")).json() == {"data": []}


async def test_provider_keys_need_a_valid_api_key(users: Users) -> None:
    async with httpx.AsyncClient(base_url=str(users.ana.base_url)) as anonymous:
        answer = await anonymous.get("/user/provider-keys")
    assert answer.status_code == 401

"""Plans through a served gateway: administration, a user's plan, and a plan's models and
rate limits met with the official openai SDK."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.limits import overrides
from tests.api.admin_support import Site, bearer, error_of, site
from tests.billing.plan_support import ledger_rows, move_period_back
from tests.conftest import SECRET, add_funded_user, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream

__all__ = ["site"]
HI = [{"role": "user", "content": "say hi please"}]
PRO = {"name": "pro", "allowance": "25", "rpm": 60, "models": ["fake/*"]}


async def test_admins_create_list_change_and_retire_plans(site: Site) -> None:
    created = await site.admin.post("/admin/plans", json=PRO)
    assert created.status_code == 201
    plan = created.json()
    assert plan | {"id": 0} == {
        "id": 0,
        "name": "pro",
        "description": None,
        "allowance": "25",
        "period_days": 30,
        "rpm": 60,
        "rpd": None,
        "tpm": None,
        "concurrency": None,
        "models": ["fake/*"],
        "active": True,
    }
    assert (await site.admin.post("/admin/plans", json=PRO)).status_code == 409
    await site.admin.put(f"/admin/users/{site.user_id}/plan", json={"plan": "pro"})

    changed = await site.admin.patch(f"/admin/plans/{plan['id']}", json={"active": False})
    assert changed.json()["active"] is False
    listed = (await site.admin.get("/admin/plans")).json()["data"]
    assert [(p["name"], p["active"], p["subscribers"]) for p in listed] == [("pro", False, 1)]
    async with httpx.AsyncClient(base_url=site.base_url) as anonymous:
        assert (await anonymous.get("/v1/plans")).json()["data"] == []
    refused = await site.admin.delete(f"/admin/plans/{plan['id']}")
    assert refused.status_code == 409 and "deactivate" in error_of(refused)["message"]

    unused = (await site.admin.post("/admin/plans", json={"name": "x", "allowance": 1})).json()
    assert (await site.admin.delete(f"/admin/plans/{unused['id']}")).status_code == 204


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "a", "allowance": "1.0000000001"}, "allowance"),
        ({"name": "a", "allowance": "-1"}, "allowance"),
        ({"name": "Has Spaces", "allowance": "1"}, "name"),
        ({"name": "a", "allowance": "1", "models": ["open ai/*"]}, "models"),
        ({"name": "a", "allowance": "1", "period_days": 0}, "period_days"),
        ({"name": "a", "allowance": "1", "rpm": 0}, "rpm"),
        ({"allowance": "1"}, "name"),
        ({"name": "a", "allowance": "1e30"}, "allowance"),
        ({"name": "a", "allowance": "1e9999"}, "allowance"),
        ({"name": "a", "allowance": "1", "rpm": 2**31}, "rpm"),
        ({"name": "a", "allowance": "1", "tpm": 10**20}, "tpm"),
        ({"name": "a", "allowance": "1", "description": "a\x00b"}, "description"),
    ],
)
async def test_a_bad_plan_is_refused_naming_the_field(
    site: Site, body: dict[str, Any], param: str
) -> None:
    refused = await site.admin.post("/admin/plans", json=body)
    assert refused.status_code == 400
    assert error_of(refused)["param"].startswith(param)


async def test_plans_are_managed_only_with_plans_manage(site: Site) -> None:
    for response in (
        await site.user.post("/admin/plans", json=PRO),
        await site.user.get("/admin/plans"),
        await site.user.put(f"/admin/users/{site.user_id}/plan", json={"plan": "pro"}),
    ):
        assert response.status_code == 403
        assert "plans:manage" in error_of(response)["message"]
    _, manager = await site.role_client("billing", ["plans:manage"])
    assert (await manager.post("/admin/plans", json=PRO)).status_code == 201


async def test_a_user_follows_their_plan_through_changes(site: Site) -> None:
    await site.admin.post("/admin/plans", json={"name": "basic", "allowance": "10"})
    await site.admin.post("/admin/plans", json=PRO)
    assert (await site.user.get("/user/plan")).json()["plan"] is None
    path = f"/admin/users/{site.user_id}/plan"

    started = (await site.admin.put(path, json={"plan": "basic"})).json()
    assert (started["change"], started["plan"]["name"], started["allowance"]) == (
        "started",
        "basic",
        "10",
    )
    upgraded = (await site.admin.put(path, json={"plan": "pro"})).json()
    assert upgraded["change"] == "upgraded"
    assert (await site.user.get("/user/balance")).json()["credits"] == "35"

    scheduled = (await site.admin.put(path, json={"plan": "basic"})).json()
    assert scheduled["change"] == "downgrade_scheduled"
    mine = (await site.user.get("/user/plan")).json()
    assert (mine["plan"]["name"], mine["next_plan"]["name"]) == ("pro", "basic")
    assert mine["period_start"] == upgraded["period_start"]

    at_end = (await site.admin.delete(path)).json()
    assert (at_end["status"], at_end["cancel_at_period_end"], at_end["next_plan"]) == (
        "active",
        True,
        None,
    )
    ended = (await site.admin.delete(path, params={"immediately": "true"})).json()
    assert ended["status"] == "canceled"
    assert (await site.admin.delete(path)).status_code == 404
    assert (await site.user.get("/user/balance")).json()["credits"] == "35"


async def test_concurrent_assignments_start_one_plan_with_one_allowance(site: Site) -> None:
    await site.admin.post("/admin/plans", json=PRO)
    path = f"/admin/users/{site.user_id}/plan"

    answers = await asyncio.gather(*(site.admin.put(path, json={"plan": "pro"}) for _ in range(5)))

    assert {a.status_code for a in answers} <= {200, 409}
    changes = sorted(a.json()["change"] for a in answers if a.status_code == 200)
    assert changes[0] == "started" and set(changes[1:]) <= {"unchanged"}
    assert len(await ledger_rows(site.engine, site.user_id, "plan_allowance")) == 1


async def test_an_unknown_plan_or_user_is_refused(site: Site) -> None:
    unknown_plan = await site.admin.put(f"/admin/users/{site.user_id}/plan", json={"plan": "x"})
    assert unknown_plan.status_code == 400 and error_of(unknown_plan)["param"] == "plan"
    await site.admin.post("/admin/plans", json=PRO)
    unknown_user = await site.admin.put("/admin/users/999999/plan", json={"plan": "pro"})
    assert unknown_user.status_code == 404
    not_a_name = await site.admin.put(f"/admin/users/{site.user_id}/plan", json={"plan": "p\x00"})
    assert not_a_name.status_code == 400 and error_of(not_a_name)["param"] == "plan"


async def test_the_renewal_task_renews_a_served_users_plan(site: Site) -> None:
    await site.admin.post("/admin/plans", json=PRO)
    await site.admin.put(f"/admin/users/{site.user_id}/plan", json={"plan": "pro"})
    await move_period_back(site.engine, site.user_id, timedelta(days=30, hours=1))

    await site.state.billing_tasks.run_once()

    assert (await site.user.get("/user/balance")).json()["credits"] == "50"


@dataclass
class Subscriber:
    base_url: str
    key: str
    admin: httpx.AsyncClient
    user_id: int
    plan_id: int

    def openai(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.base_url}/v1", api_key=self.key, max_retries=0)


@contextlib.asynccontextmanager
async def subscriber(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    plan: dict[str, Any],
    user_override: dict[str, int] | None = None,
) -> AsyncIterator[Subscriber]:
    """A served gateway and a funded user on `plan`, assigned through the admin API."""
    admin = await accounts.create_user(engine, "boss@example.com", role="admin")
    admin_key = await accounts.create_key(engine, SECRET.encode(), admin.id, "boss")
    user_id, key = await add_funded_user(engine, "sub@example.com", "5")
    if user_override:
        await overrides.store(engine, user_override, user_id=user_id)
    async with (
        serve(gateway_settings(database_url, upstream)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url, headers=bearer(admin_key), timeout=30) as http,
    ):
        created = await http.post("/admin/plans", json=plan)
        assert created.status_code == 201
        assigned = await http.put(f"/admin/users/{user_id}/plan", json={"plan": plan["name"]})
        assert assigned.status_code == 200
        yield Subscriber(base_url, key, http, user_id, created.json()["id"])


async def test_a_model_outside_the_plan_is_refused_naming_the_plan_and_model(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    plan = {"name": "starter", "allowance": "1", "models": ["fake/fake-model"]}
    async with subscriber(database_url, engine, upstream, plan) as sub:
        client = sub.openai()
        answer = await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        assert answer.choices[0].message.content

        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.chat.completions.create(model="fake/fake-no-usage", messages=HI)  # type: ignore[arg-type]
        assert "'starter'" in refused.value.message
        assert "'fake/fake-no-usage'" in refused.value.message

        await sub.admin.patch(f"/admin/plans/{sub.plan_id}", json={"models": None})
        assert await client.chat.completions.create(model="fake/fake-no-usage", messages=HI)  # type: ignore[arg-type]


async def test_a_plans_rate_limit_applies_to_its_users(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with subscriber(
        database_url, engine, upstream, {"name": "slow", "allowance": "1", "rpm": 2}
    ) as sub:
        client = sub.openai()
        for _ in range(2):
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        assert "2 requests per minute for this user" in refused.value.message


async def test_a_users_own_override_wins_over_their_plans_limit(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    plan = {"name": "slow", "allowance": "1", "rpm": 1}
    async with subscriber(database_url, engine, upstream, plan, {"rpm": 3}) as sub:
        client = sub.openai()
        for _ in range(3):
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="fake-model", messages=HI)  # type: ignore[arg-type]


async def test_ids_too_large_to_store_are_refused_naming_them(site: Site) -> None:
    await site.admin.post("/admin/plans", json=PRO)
    huge = 2**31
    answers = {
        "plan_id": await site.admin.patch(f"/admin/plans/{huge}", json={"active": False}),
        "user_id": await site.admin.put(f"/admin/users/{huge}/plan", json={"plan": "pro"}),
        "plan": await site.admin.put(f"/admin/users/{site.user_id}/plan", json={"plan": huge}),
    }
    canceled = await site.admin.delete(f"/admin/users/{huge}/plan")

    for param, answer in answers.items():
        assert (answer.status_code, error_of(answer)["param"]) == (400, param)
    assert (canceled.status_code, error_of(canceled)["param"]) == (400, "user_id")


async def test_plans_created_at_once_with_one_name_make_one_plan(site: Site) -> None:
    answers = await asyncio.gather(*(site.admin.post("/admin/plans", json=PRO) for _ in range(5)))

    assert sorted(a.status_code for a in answers) == [201] + [409] * 4
    assert len((await site.admin.get("/admin/plans")).json()["data"]) == 1

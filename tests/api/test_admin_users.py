"""The admin user endpoints over HTTP: create, search and page, read one."""

from datetime import UTC, datetime, timedelta

import httpx
import orjson
from sqlalchemy import func, select

from gatewayz.store.tables import audit_logs, ledger, plans, subscriptions
from tests.api.admin_support import Site, bearer, error_of, site  # noqa: F401


async def test_a_created_user_gets_credits_and_a_working_key_shown_once(
    site: Site,  # noqa: F811
) -> None:
    created = await site.admin.post(
        "/admin/users",
        json={"email": " New@Example.com ", "credits": "12.5", "create_key": True},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["email"], body["role"], body["credits"], body["key_count"]) == (
        "new@example.com",
        "user",
        "12.5",
        1,
    )
    assert body["api_key"].startswith("gw_")
    assert body["keys"][0]["prefix"] == body["api_key"][: len(body["keys"][0]["prefix"])]
    async with httpx.AsyncClient(base_url=site.base_url, headers=bearer(body["api_key"])) as new:
        assert (await new.get("/user/balance")).json()["credits"] == "12.5"
    again = await site.admin.get(f"/admin/users/{body['id']}")
    assert "api_key" not in again.json()
    assert body["api_key"] not in again.text
    async with site.engine.connect() as conn:
        rows = (await conn.execute(select(ledger.c.kind, ledger.c.amount_units))).all()
        event = (await conn.execute(select(audit_logs))).one()
    assert [tuple(r) for r in rows] == [("grant", 12_500_000_000)]
    assert (event.event, event.actor_user_id, event.target_id) == (
        "user.created",
        site.admin_id,
        str(body["id"]),
    )
    assert orjson.loads(event.details) == {
        "email": "new@example.com",
        "role": "user",
        "credits": "12.5",
        "key_created": True,
    }


async def test_bad_new_users_are_refused_naming_the_field(site: Site) -> None:  # noqa: F811
    cases = [
        ({"email": "not-an-email"}, 400, "email"),
        ({"email": "plain@example.com"}, 409, "email"),
        ({"email": "x@example.com", "role": "ghost"}, 400, "role"),
        ({"email": "x@example.com", "role": "gh\x00st"}, 400, "role"),
        ({"email": "x@example.com", "credits": "-1"}, 400, "credits"),
        ({"email": "x@example.com", "credits": "ten"}, 400, "credits"),
        ({"email": "x@example.com", "credits": "0.0000000001"}, 400, "credits"),
        ({"email": "x@example.com", "colour": "red"}, 400, "colour"),
    ]
    for payload, status, param in cases:
        response = await site.admin.post("/admin/users", json=payload)
        assert (response.status_code, error_of(response)["param"]) == (status, param), payload
    listed = (await site.admin.get("/admin/users")).json()
    assert listed["total"] == 2


async def test_giving_a_new_user_a_role_also_needs_roles_manage(site: Site) -> None:  # noqa: F811
    _, clerk = await site.role_client("clerk", ["users:write"])
    refused = await clerk.post("/admin/users", json={"email": "x@example.com", "role": "admin"})
    assert refused.status_code == 403
    assert "roles:manage" in error_of(refused)["message"]
    plain = await clerk.post("/admin/users", json={"email": "x@example.com"})
    assert (plain.status_code, plain.json()["role"]) == (201, "user")
    admin_made = await site.admin.post(
        "/admin/users", json={"email": "y@example.com", "role": "admin"}
    )
    assert admin_made.json()["role"] == "admin"


async def test_users_are_searched_by_email_part_or_id_and_paged(site: Site) -> None:  # noqa: F811
    for i in range(5):
        await site.admin.post("/admin/users", json={"email": f"team{i}@Acme.io"})
    found = (await site.admin.get("/admin/users", params={"q": "ACME", "limit": 2})).json()
    assert found["total"] == 5
    assert [u["email"] for u in found["data"]] == ["team0@acme.io", "team1@acme.io"]
    last = (await site.admin.get("/admin/users", params={"q": "acme", "offset": 4})).json()
    assert [u["email"] for u in last["data"]] == ["team4@acme.io"]
    by_id = (await site.admin.get("/admin/users", params={"q": str(site.user_id)})).json()
    assert site.user_id == 2
    assert [u["email"] for u in by_id["data"]] == ["plain@example.com", "team2@acme.io"], (
        "the user with that id, then emails containing it"
    )
    wildcard = (await site.admin.get("/admin/users", params={"q": "%"})).json()
    assert wildcard["total"] == 0, "% is a character, not a wildcard"
    everyone = (await site.admin.get("/admin/users")).json()
    assert everyone["total"] == 7
    bad = await site.admin.get("/admin/users", params={"limit": 0})
    assert (bad.status_code, error_of(bad)["param"]) == (400, "limit")


async def test_a_listed_user_shows_money_keys_and_plan(site: Site) -> None:  # noqa: F811
    now = datetime.now(UTC)
    async with site.engine.begin() as conn:
        plan_id = await conn.scalar(
            plans.insert()
            .values(name="pro", allowance_units=5 * 10**9, period_days=30)
            .returning(plans.c.id)
        )
        await conn.execute(
            subscriptions.insert().values(
                user_id=site.user_id,
                plan_id=plan_id,
                status="active",
                period_start=now,
                period_end=now + timedelta(days=30),
            )
        )
    await site.admin.post(
        f"/admin/users/{site.user_id}/credits", json={"amount": "3", "reason": "x"}
    )
    [listed] = (await site.admin.get("/admin/users", params={"q": "plain"})).json()["data"]
    assert listed["id"] == site.user_id
    assert (listed["credits"], listed["reserved"], listed["available"]) == ("3", "0", "3")
    assert (listed["role"], listed["key_count"], listed["plan"]) == ("user", 1, "pro")
    assert listed["created_at"].endswith("+00:00")

    detail = (await site.admin.get(f"/admin/users/{site.user_id}")).json()
    assert detail["plan"]["name"] == "pro"
    assert (detail["plan"]["status"], detail["plan"]["allowance"]) == ("active", "5")
    assert detail["trial"] is None
    [key] = detail["keys"]
    assert (key["name"], key["revoked_at"]) == ("plain", None)
    assert set(key) == {
        "id",
        "name",
        "prefix",
        "environment",
        "created_at",
        "expires_at",
        "revoked_at",
    }
    async with site.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ledger)) == 1
    missing = await site.admin.get("/admin/users/9999")
    assert missing.status_code == 404


async def test_a_new_users_role_cannot_hold_more_than_its_creator(site: Site) -> None:  # noqa: F811
    _, staff = await site.role_client("staff", ["users:write", "roles:manage"])
    refused = await staff.post("/admin/users", json={"email": "z@example.com", "role": "admin"})
    assert refused.status_code == 403
    assert "credits:adjust" in error_of(refused)["message"]
    same = await staff.post("/admin/users", json={"email": "w@example.com", "role": "staff"})
    assert (same.status_code, same.json()["role"]) == (201, "staff")


async def test_starting_credits_need_credits_adjust_and_a_refusal_creates_nothing(
    site: Site,  # noqa: F811
) -> None:
    _, clerk = await site.role_client("clerk", ["users:write", "users:read"])
    refused = await clerk.post(
        "/admin/users",
        json={"email": "rich@example.com", "credits": "1000000", "create_key": True},
    )
    assert refused.status_code == 403, refused.text
    error = error_of(refused)
    assert error["type"] == "permission_error" and "credits:adjust" in error["message"]
    assert "api_key" not in refused.text
    found = (await clerk.get("/admin/users", params={"q": "rich@"})).json()
    assert found["total"] == 0, "no half-made user"
    async with site.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ledger)) == 0
        assert await conn.scalar(select(func.count()).select_from(audit_logs)) == 0

    free = await clerk.post("/admin/users", json={"email": "rich@example.com", "credits": "0"})
    assert (free.status_code, free.json()["credits"]) == (201, "0")
    granted = await site.admin.post(
        "/admin/users", json={"email": "funded@example.com", "credits": "5"}
    )
    assert (granted.status_code, granted.json()["credits"]) == (201, "5")

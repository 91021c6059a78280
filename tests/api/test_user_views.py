"""The caller's own views: profile, balance, usage and ledger, on a served gateway."""

from datetime import UTC, datetime, timedelta

import httpx
import openai
from sqlalchemy import func, select, update

from gatewayz.store.tables import ledger, plans, subscriptions, trials, users
from tests.api.admin_support import Site, bearer, error_of, site  # noqa: F401
from tests.conftest import settle_now
from tests.telemetry.rows import insert, row

HI = [{"role": "user", "content": "say hi please"}]
HI_COST = 3 * 2_000 + 5 * 8_000  # 3 prompt and 5 completion tokens at the fake's prices


async def _funded(site: Site, credits: str) -> tuple[int, str]:  # noqa: F811
    """A new user created by the admin with starting credits and a key."""
    body = {"email": "owner@example.com", "credits": credits, "create_key": True}
    created = (await site.admin.post("/admin/users", json=body)).json()
    return created["id"], created["api_key"]


async def _chat(site: Site, key: str) -> None:  # noqa: F811
    client = openai.AsyncOpenAI(base_url=f"{site.base_url}/v1", api_key=key, max_retries=0)
    async with client:
        await client.chat.completions.create(model="fake-model", messages=HI)
    await settle_now(site.state)


async def test_the_profile_shows_role_plan_trial_referral_and_keys(site: Site) -> None:  # noqa: F811
    now = datetime.now(UTC)
    async with site.engine.begin() as conn:
        await conn.execute(
            update(users).where(users.c.id == site.user_id).values(referral_code="PLAIN42")
        )
        plan_id = await conn.scalar(
            plans.insert()
            .values(name="starter", allowance_units=10**9, period_days=7)
            .returning(plans.c.id)
        )
        await conn.execute(
            subscriptions.insert().values(
                user_id=site.user_id,
                plan_id=plan_id,
                status="active",
                period_start=now,
                period_end=now + timedelta(days=7),
            )
        )
        await conn.execute(
            trials.insert().values(
                user_id=site.user_id,
                credits_units=2 * 10**9,
                started_at=now,
                expires_at=now + timedelta(days=3),
            )
        )
    profile = (await site.user.get("/user/profile")).json()
    assert (profile["id"], profile["email"], profile["role"]) == (
        site.user_id,
        "plain@example.com",
        "user",
    )
    assert (profile["permissions"], profile["referral_code"], profile["key_count"]) == (
        [],
        "PLAIN42",
        1,
    )
    assert (profile["plan"]["name"], profile["plan"]["allowance"]) == ("starter", "1")
    assert (profile["trial"]["credits"], profile["trial"]["active"]) == ("2", True)
    assert profile["created_at"].endswith("+00:00")
    balance = (await site.user.get("/user/balance")).json()
    assert (balance["credits"], balance["plan"]["name"]) == ("0", "starter")

    admin = (await site.admin.get("/user/profile")).json()
    assert (admin["role"], admin["plan"], admin["trial"]) == ("admin", None, None)
    assert "credits:adjust" in admin["permissions"]


async def test_the_balance_always_equals_the_sum_of_the_ledger(site: Site) -> None:  # noqa: F811
    user_id, key = await _funded(site, "3")
    await _chat(site, key)
    adjust = f"/admin/users/{user_id}/credits"
    await site.admin.post(adjust, json={"amount": "1.5", "reason": "sorry"})
    await _chat(site, key)
    await site.admin.post(adjust, json={"amount": "-0.5", "reason": "correction"})
    await site.admin.post(adjust, json={"amount": "-100", "reason": "refused: too much"})

    async with httpx.AsyncClient(base_url=site.base_url, headers=bearer(key)) as own:
        balance = (await own.get("/user/balance")).json()
        rows = (await own.get("/user/transactions")).json()["data"]
    expected = 3 * 10**9 - HI_COST + 15 * 10**8 - HI_COST - 5 * 10**8
    assert balance["credits"] == "3.999908" == f"{expected / 10**9:.6f}"
    assert [r["kind"] for r in rows] == [
        "admin_adjustment",
        "usage",
        "admin_adjustment",
        "usage",
        "grant",
    ]
    assert rows[0]["balance_after"] == balance["credits"]
    assert rows[1]["request_id"] and rows[0]["request_id"] is None
    assert rows[2]["reason"] == "sorry"
    async with site.engine.connect() as conn:
        ledger_sum = await conn.scalar(
            select(func.sum(ledger.c.amount_units)).where(ledger.c.user_id == user_id)
        )
        stored = await conn.scalar(select(users.c.balance_units).where(users.c.id == user_id))
    assert int(ledger_sum) == stored == expected


async def test_transactions_are_paged_filtered_and_private(site: Site) -> None:  # noqa: F811
    for i in range(5):
        await site.admin.post(
            f"/admin/users/{site.user_id}/credits", json={"amount": str(i + 1), "reason": f"r{i}"}
        )
    await site.admin.post(
        f"/admin/users/{site.admin_id}/credits", json={"amount": "9", "reason": "x"}
    )
    reasons: list[str] = []
    params: dict[str, object] = {"limit": 2}
    while True:
        page = (await site.user.get("/user/transactions", params=params)).json()
        reasons += [r["reason"] for r in page["data"]]
        if page["next_before_id"] is None:
            break
        params["before_id"] = page["next_before_id"]
    assert reasons == ["r4", "r3", "r2", "r1", "r0"]
    usage_only = (await site.user.get("/user/transactions", params={"kind": "usage"})).json()
    assert usage_only == {"data": [], "next_before_id": None}
    bad = await site.user.get("/user/transactions", params={"limit": 0})
    assert (bad.status_code, error_of(bad)["param"]) == (400, "limit")


async def test_usage_shows_the_callers_own_calls_by_day_model_and_key(site: Site) -> None:  # noqa: F811
    _, key = await _funded(site, "1")
    await _chat(site, key)
    await _chat(site, key)
    now = datetime.now(UTC)
    await insert(site.engine, [row(user_id=site.admin_id, model="other", created_at=now)])
    async with httpx.AsyncClient(base_url=site.base_url, headers=bearer(key)) as own:
        by_day = (await own.get("/user/usage")).json()
        by_model = (await own.get("/user/usage", params={"group_by": "model"})).json()
        by_key = (await own.get("/user/usage", params={"group_by": "key"})).json()
        refused = await own.get("/user/usage", params={"group_by": "user"})
        bad_time = await own.get("/user/usage", params={"to": "tomorrow"})
    assert by_day["totals"]["requests"] == 2
    assert by_day["totals"]["cost"] == f"{2 * HI_COST / 10**9:.6f}"
    assert (by_day["totals"]["input_tokens"], by_day["totals"]["output_tokens"]) == (6, 10)
    assert by_day["data"][-1]["date"] == now.date().isoformat()
    assert by_day["data"][-1]["requests"] == 2
    assert [(g["model"], g["requests"]) for g in by_model["data"]] == [("fake-model", 2)]
    [per_key] = by_key["data"]
    assert per_key["requests"] == 2 and per_key["key"].startswith("default (gw_")
    assert (refused.status_code, error_of(refused)["param"]) == (400, "group_by")
    assert (bad_time.status_code, error_of(bad_time)["param"]) == (400, "to")

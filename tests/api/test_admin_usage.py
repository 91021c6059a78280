"""GET /admin/usage: usage across users, grouped, over a checked time range."""

from datetime import UTC, datetime, timedelta

from gatewayz.billing import ledger
from gatewayz.billing.ledger import Settlement
from tests.api.admin_support import Site, error_of, site  # noqa: F401
from tests.telemetry.rows import NOON, insert, row

RANGE = {"from": "2025-01-09", "to": "2025-01-12T00:00:00Z"}


async def _seed(site: Site) -> None:  # noqa: F811
    """Four calls in the range (two users, two models, two days) and one before it."""
    a, b = site.admin_id, site.user_id
    await insert(
        site.engine,
        [
            row(user_id=a, model="m-a", input_tokens=10, output_tokens=5, cost_units=1_500),
            row(user_id=a, model="m-b", input_tokens=20, output_tokens=1, cost_units=2_500),
            row(
                user_id=b,
                model="m-a",
                input_tokens=7,
                output_tokens=3,
                cost_units=500,
                created_at=NOON + timedelta(days=1),
            ),
            row(user_id=b, model="m-a", status_code=500, created_at=NOON + timedelta(days=1)),
            row(user_id=b, model="m-a", cost_units=10**9, created_at=NOON - timedelta(days=5)),
        ],
    )


async def test_usage_is_grouped_by_model_user_and_day(site: Site) -> None:  # noqa: F811
    await _seed(site)
    by_model = (await site.admin.get("/admin/usage", params=RANGE)).json()
    assert (by_model["from"], by_model["to"], by_model["group_by"]) == (
        "2025-01-09T00:00:00+00:00",
        "2025-01-12T00:00:00+00:00",
        "model",
    )
    assert by_model["totals"] == {
        "requests": 4,
        "errors": 1,
        "input_tokens": 37,
        "output_tokens": 9,
        "total_tokens": 46,
        "cost": "0.0000045",
    }
    assert [(g["model"], g["requests"], g["cost"]) for g in by_model["data"]] == [
        ("m-b", 1, "0.0000025"),
        ("m-a", 3, "0.000002"),
    ]
    by_user = (await site.admin.get("/admin/usage", params={**RANGE, "group_by": "user"})).json()
    assert [(g["user_id"], g["email"], g["input_tokens"]) for g in by_user["data"]] == [
        (site.admin_id, "root@example.com", 30),
        (site.user_id, "plain@example.com", 7),
    ]
    by_day = (await site.admin.get("/admin/usage", params={**RANGE, "group_by": "day"})).json()
    assert [(g["date"], g["requests"], g["output_tokens"]) for g in by_day["data"]] == [
        ("2025-01-09", 0, 0),
        ("2025-01-10", 2, 6),
        ("2025-01-11", 2, 3),
    ]


async def test_usage_can_be_narrowed_to_a_user_and_a_model(site: Site) -> None:  # noqa: F811
    await _seed(site)
    params = {**RANGE, "user_id": site.admin_id, "model": "m-a"}
    body = (await site.admin.get("/admin/usage", params=params)).json()
    assert body["totals"]["requests"] == 1
    assert [(g["model"], g["cost"]) for g in body["data"]] == [("m-a", "0.0000015")]


async def test_the_default_range_is_the_last_30_days(site: Site) -> None:  # noqa: F811
    now = datetime.now(UTC)
    await insert(
        site.engine,
        [
            row(user_id=site.user_id, cost_units=7, created_at=now - timedelta(days=29)),
            row(user_id=site.user_id, cost_units=1_000, created_at=now - timedelta(days=31)),
        ],
    )
    body = (await site.admin.get("/admin/usage", params={"group_by": "day"})).json()
    assert body["totals"]["cost"] == "0.000000007"
    assert len(body["data"]) == 31, "every day the 30 days touch"
    assert datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"]) == timedelta(
        days=30
    )


async def test_bad_parameters_are_refused_by_name(site: Site) -> None:  # noqa: F811
    cases = [
        ({"from": "yesterday"}, "from"),
        ({"to": "2025-13-01"}, "to"),
        ({"from": "2025-01-02", "to": "2025-01-01"}, "from"),
        ({"from": "2020-01-01", "to": "2025-01-01"}, "from"),
        ({"group_by": "colour"}, "group_by"),
        ({"user_id": "me"}, "user_id"),
    ]
    for params, param in cases:
        response = await site.admin.get("/admin/usage", params=params)
        assert (response.status_code, error_of(response)["param"]) == (400, param), params
    assert (
        "ISO 8601"
        in error_of(await site.admin.get("/admin/usage", params={"from": "x"}))["message"]
    )


async def test_shortfalls_are_listed_newest_first_by_user_and_paged(site: Site) -> None:  # noqa: F811
    a, b = site.admin_id, site.user_id
    settled = [
        Settlement(a, "req-a1", 0, 3_000, "fake/m", shortfall_units=1_000),
        Settlement(b, "req-b1", 0, 5_000, "fake/m", shortfall_units=5_000),
        Settlement(a, "req-a2", 0, 7_000, "fake/m"),  # covered by its hold
        Settlement(a, "req-a3", 0, 9_000, "gem/g", shortfall_units=2_000),
    ]
    await ledger.change_credits(
        site.engine, a, 20_000, kind="grant", reason=None, idempotency_key="seed"
    )
    async with site.engine.begin() as conn:
        assert await ledger.settle(conn, settled) == sorted({a, b})
    every = (await site.admin.get("/admin/shortfalls")).json()
    assert [(r["request_id"], r["shortfall"]) for r in every["data"]] == [
        ("req-a3", "0.000002"),
        ("req-b1", "0.000005"),
        ("req-a1", "0.000001"),
    ]
    first = every["data"][0]
    assert (first["user_id"], first["email"], first["amount"]) == (
        a,
        "root@example.com",
        "-0.000009",
    )
    assert first["balance_after"] == "0.000001" and first["reason"] == "gem/g"
    page = (await site.admin.get("/admin/shortfalls", params={"user_id": a, "limit": 1})).json()
    assert [r["request_id"] for r in page["data"]] == ["req-a3"]
    rest = await site.admin.get(
        "/admin/shortfalls", params={"user_id": a, "before_id": page["next_before_id"]}
    )
    assert [r["request_id"] for r in rest.json()["data"]] == ["req-a1"]
    assert rest.json()["next_before_id"] is None
    refused = await site.user.get("/admin/shortfalls")
    assert refused.status_code == 403
    assert "usage:read" in error_of(refused)["message"]

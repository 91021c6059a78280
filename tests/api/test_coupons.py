"""Coupons over HTTP: administrators manage them, users redeem them or use them at checkout."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.tables import audit_logs
from tests.api.stripe_shop import UNITS, Shop, open_shop
from tests.fakes.openai_upstream import FakeOpenAIUpstream


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Shop]:
    async with open_shop(database_url, engine, upstream) as opened:
        yield opened


@pytest.fixture
async def admin(shop: Shop) -> dict[str, str]:
    return (await shop.user("admin@example.com", role="admin"))[1]


async def _create(shop: Shop, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    created = await shop.http.post("/admin/coupons", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()


async def _coupon(shop: Shop, admin: dict[str, str], code: str) -> dict[str, Any]:
    listed = (await shop.http.get("/admin/coupons", headers=admin)).json()["data"]
    return next(coupon for coupon in listed if coupon["code"] == code)


async def test_an_admin_creates_lists_and_disables_coupons(
    shop: Shop, admin: dict[str, str]
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    created = await _create(
        shop, admin, code="spring-25", kind="credits", credits="2.5", expires_at=expires
    )
    assert created["code"] == "SPRING-25"
    assert created["credits"] == "2.5"
    assert created["max_per_user"] == 1
    assert created["active"] is True

    disabled = await shop.http.delete("/admin/coupons/spring-25", headers=admin)
    assert disabled.status_code == 200
    assert (await _coupon(shop, admin, "SPRING-25"))["active"] is False
    _, user = await shop.user("user@example.com")
    refused = await shop.http.post("/user/coupons/redeem", json={"code": "SPRING-25"}, headers=user)
    assert refused.status_code == 400
    assert "disabled" in refused.json()["error"]["message"]
    async with shop.engine.connect() as conn:
        events = (await conn.execute(select(audit_logs.c.event, audit_logs.c.target_id))).all()
    assert [tuple(e) for e in events] == [
        ("coupon.created", "SPRING-25"),
        ("coupon.disabled", "SPRING-25"),
    ]


async def test_managing_coupons_needs_the_permission(shop: Shop) -> None:
    _, user = await shop.user("user@example.com")

    created = await shop.http.post(
        "/admin/coupons", json={"code": "FREE", "kind": "credits", "credits": "100"}, headers=user
    )
    listed = await shop.http.get("/admin/coupons", headers=user)
    deleted = await shop.http.delete("/admin/coupons/FREE", headers=user)

    assert created.status_code == listed.status_code == deleted.status_code == 403
    assert "coupons:manage" in created.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"code": "X1X", "kind": "credits"}, "credits"),
        ({"code": "X1X", "kind": "credits", "credits": "1", "percent": 5}, "credits"),
        ({"code": "X1X", "kind": "bonus", "credits": "1"}, "percent"),
        ({"code": "X1X", "kind": "bonus", "percent": 101}, "percent"),
        ({"code": "X1X", "kind": "gift", "credits": "1"}, "kind"),
        ({"code": "no spaces", "kind": "credits", "credits": "1"}, "code"),
        ({"code": "X1X", "kind": "credits", "credits": "-1"}, "credits"),
        ({"code": "X1X", "kind": "credits", "credits": "1", "max_per_user": 0}, "max_per_user"),
        ({"code": "X1X", "kind": "credits", "credits": "1e30"}, "credits"),
        ({"code": "X1X", "kind": "credits", "credits": "1e9999"}, "credits"),
        (
            {"code": "X1X", "kind": "credits", "credits": "1", "max_redemptions": 2**31},
            "max_redemptions",
        ),
        (
            {"code": "X1X", "kind": "credits", "credits": "1", "max_per_user": 10**12},
            "max_per_user",
        ),
        (
            {"code": "X1X", "kind": "credits", "credits": "1", "expires_at": "2020-01-01T00:00Z"},
            "expires_at",
        ),
    ],
)
async def test_a_bad_coupon_is_refused_naming_the_field(
    shop: Shop, admin: dict[str, str], body: dict[str, Any], param: str
) -> None:
    refused = await shop.http.post("/admin/coupons", json=body, headers=admin)

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == param
    assert (await shop.http.get("/admin/coupons", headers=admin)).json()["data"] == []


async def test_a_taken_code_or_unknown_coupon_is_reported(
    shop: Shop, admin: dict[str, str]
) -> None:
    await _create(shop, admin, code="ONCE", kind="credits", credits="1")

    taken = await shop.http.post(
        "/admin/coupons", json={"code": "once", "kind": "credits", "credits": "9"}, headers=admin
    )
    unknown = await shop.http.delete("/admin/coupons/NEVER", headers=admin)

    assert taken.status_code == 409
    assert unknown.status_code == 404
    assert (await _coupon(shop, admin, "ONCE"))["credits"] == "1"


async def test_a_user_redeems_a_credits_coupon_once(shop: Shop, admin: dict[str, str]) -> None:
    await _create(shop, admin, code="HELLO", kind="credits", credits="3")
    user_id, user = await shop.user("user@example.com")

    redeemed = await shop.http.post("/user/coupons/redeem", json={"code": "hello"}, headers=user)
    again = await shop.http.post("/user/coupons/redeem", json={"code": "HELLO"}, headers=user)
    unknown = await shop.http.post("/user/coupons/redeem", json={"code": "NOPE1"}, headers=user)

    assert redeemed.status_code == 200
    assert redeemed.json() == {"code": "HELLO", "credits": "3", "balance": "3"}
    assert again.status_code == 400
    assert again.json()["error"]["param"] == "code"
    assert unknown.status_code == 404
    assert await shop.ledger_rows(user_id) == [("coupon", 3 * UNITS)]


async def test_redeeming_at_once_over_http_yields_one_redemption(
    shop: Shop, admin: dict[str, str]
) -> None:
    await _create(shop, admin, code="BURST", kind="credits", credits="1")
    user_id, user = await shop.user("user@example.com")

    answers = await asyncio.gather(
        *(
            shop.http.post("/user/coupons/redeem", json={"code": "BURST"}, headers=user)
            for _ in range(8)
        )
    )

    assert sorted(answer.status_code for answer in answers) == [200] + [400] * 7
    assert await shop.ledger_rows(user_id) == [("coupon", UNITS)]
    assert (await _coupon(shop, admin, "BURST"))["redemptions"] == 1
    await shop.assert_balances_match_ledger()


async def test_a_bonus_coupon_adds_its_percent_when_the_purchase_settles(
    shop: Shop, admin: dict[str, str]
) -> None:
    await _create(shop, admin, code="PLUS10", kind="bonus", percent=10)
    user_id, user = await shop.user("user@example.com")

    started = await shop.checkout(user, "20", coupon="plus10")
    assert shop.stripe.requests[-1].form["metadata"]["coupon"] == "PLUS10"
    assert (await _coupon(shop, admin, "PLUS10"))["redemptions"] == 0
    await shop.deliver("checkout.session.completed", shop.stripe.completed(started.json()["id"]))

    assert await shop.ledger_rows(user_id) == [
        ("purchase", 20 * UNITS),
        ("coupon_bonus", 2 * UNITS),
    ]
    assert (await _coupon(shop, admin, "PLUS10"))["redemptions"] == 1
    payment = (await shop.http.get("/user/payments", headers=user)).json()["data"][0]
    assert (payment["coupon"], payment["bonus_credits"]) == ("PLUS10", "2")


@pytest.mark.parametrize("coupon", ["NOSUCH", "GIFT", "USED"])
async def test_checkout_with_an_unusable_coupon_is_refused_before_stripe(
    shop: Shop, admin: dict[str, str], coupon: str
) -> None:
    await _create(shop, admin, code="GIFT", kind="credits", credits="1")
    await _create(shop, admin, code="USED", kind="bonus", percent=5)
    _, user = await shop.user("user@example.com")
    await shop.buy(user, "10", coupon="USED")
    calls = len(shop.stripe.requests)

    refused = await shop.checkout(user, "10", coupon=coupon)

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "coupon"
    assert len(shop.stripe.requests) == calls


async def test_a_bonus_coupon_is_checked_again_when_the_purchase_settles(
    shop: Shop, admin: dict[str, str]
) -> None:
    await _create(shop, admin, code="ONLY1", kind="bonus", percent=50, max_redemptions=1)
    first_id, first = await shop.user("first@example.com")
    second_id, second = await shop.user("second@example.com")
    first_session = (await shop.checkout(first, "10", coupon="ONLY1")).json()["id"]
    second_session = (await shop.checkout(second, "10", coupon="ONLY1")).json()["id"]

    await shop.deliver("checkout.session.completed", shop.stripe.completed(second_session))
    await shop.deliver("checkout.session.completed", shop.stripe.completed(first_session))

    assert await shop.ledger_rows(second_id) == [
        ("purchase", 10 * UNITS),
        ("coupon_bonus", 5 * UNITS),
    ]
    assert await shop.ledger_rows(first_id) == [("purchase", 10 * UNITS)]
    assert (await _coupon(shop, admin, "ONLY1"))["redemptions"] == 1


async def test_a_full_refund_also_takes_back_the_bonus(shop: Shop, admin: dict[str, str]) -> None:
    await _create(shop, admin, code="PLUS10", kind="bonus", percent=10)
    user_id, user = await shop.user("user@example.com")
    session_id = await shop.buy(user, "10", coupon="PLUS10")

    await shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, 1000))

    assert await shop.balance(user_id) == 0
    assert (await shop.ledger_rows(user_id))[-1] == ("refund", -11 * UNITS)


async def test_a_refund_takes_back_its_share_of_the_coupon_bonus(
    shop: Shop, admin: dict[str, str]
) -> None:
    await _create(shop, admin, code="PLUS10", kind="bonus", percent=10)
    user_id, user = await shop.user("user@example.com")
    session_id = await shop.buy(user, "20", coupon="PLUS10")

    await shop.deliver("charge.refunded", shop.stripe.refunded_charge(session_id, 1000))

    assert await shop.balance(user_id) == 11 * UNITS
    assert (await shop.ledger_rows(user_id))[-1] == ("refund", -11 * UNITS)
    payment = (await shop.http.get("/user/payments", headers=user)).json()["data"][0]
    assert (payment["status"], payment["credits_reversed"]) == ("partially_refunded", "11")
    await shop.assert_balances_match_ledger()


async def test_a_dispute_takes_the_coupon_bonus_with_the_purchase(
    shop: Shop, admin: dict[str, str]
) -> None:
    await _create(shop, admin, code="PLUS10", kind="bonus", percent=10)
    user_id, user = await shop.user("user@example.com")
    session_id = await shop.buy(user, "20", coupon="PLUS10")

    await shop.deliver("charge.dispute.created", shop.stripe.dispute(session_id, "needs_response"))

    assert await shop.balance(user_id) == 0
    assert (await shop.ledger_rows(user_id))[-1] == ("dispute", -22 * UNITS)

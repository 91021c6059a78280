"""Temporary review probe (deleted after review)."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.admin_support import Site, site
from tests.api.stripe_shop import Shop, open_shop
from tests.fakes.openai_upstream import FakeOpenAIUpstream

__all__ = ["site"]


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Shop]:
    async with open_shop(database_url, engine, upstream) as opened:
        yield opened


async def test_checkout_probe(shop: Shop) -> None:
    _, headers = await shop.user("b@example.com")
    out = []
    for amount in ["1e100", "NaN", "Infinity", "-5", 20, 20.1, True, [], "1e-100", "99999999999999999999999999999999"]:
        r = await shop.http.post("/user/checkout", json={"amount": amount}, headers=headers)
        out.append((amount, r.status_code, r.text[:150]))
    r = await shop.http.post("/user/checkout", content=b"{bad", headers={**headers, "content-type": "application/json"})
    out.append(("malformed", r.status_code, r.text[:150]))
    r = await shop.http.post("/user/checkout", json={"amount": "10", "coupon": 5}, headers=headers)
    out.append(("coupon5", r.status_code, r.text[:150]))
    r = await shop.http.post("/user/checkout", json={"amount": "10", "coupon": "a b"}, headers=headers)
    out.append(("coupon a b", r.status_code, r.text[:150]))
    for o in out:
        print(o)
    assert False


async def test_admin_probe(site: Site) -> None:
    out = []
    calls = [
        ("post", "/admin/coupons", {"code": "BIG1", "kind": "credits", "credits": "1e30"}),
        ("post", "/admin/coupons", {"code": "BIG2", "kind": "credits", "credits": "1e9999"}),
        ("post", "/admin/coupons", {"code": "BIG3", "kind": "credits", "credits": "5", "max_redemptions": 10**30}),
        ("post", "/admin/coupons", {"code": "BIG4", "kind": "credits", "credits": "5", "max_per_user": 10**12}),
        ("post", "/admin/coupons", {"code": "BIG5", "kind": "credits", "credits": "5", "expires_at": "9999-12-31T23:59:59"}),
        ("post", "/admin/plans", {"name": "p1", "allowance": "1e30"}),
        ("post", "/admin/plans", {"name": "p2", "allowance": "1e9999"}),
        ("post", "/admin/plans", {"name": "p3", "allowance": "5", "rpm": 10**20}),
        ("post", "/admin/plans", {"name": "p4", "allowance": "NaN"}),
        ("post", "/admin/plans", {"name": "p5", "allowance": "5", "models": "x"}),
        ("patch", "/admin/plans/99999999999999999999999", {"active": False}),
        ("put", "/admin/users/99999999999999999999999/plan", {"plan": "p1"}),
        ("put", "/admin/users/1/plan", {"plan": 99999999999999999999999}),
        ("put", "/admin/users/1/plan", {"plan": True}),
        ("post", "/admin/users/99999999999999999999999/credits", {"amount": "5", "reason": "x"}),
        ("post", "/admin/users/1/credits", {"amount": "1e999999", "reason": "x"}),
        ("post", "/admin/users/1/credits", {"amount": 5, "reason": "x"}),
        ("post", "/admin/users/1/credits", {"amount": "-1e6", "reason": "x"}),
        ("delete", "/admin/users/99999999999999999999999/plan", None),
        ("get", "/admin/users/99999999999999999999999/plan", None),
    ]
    for method, path, body in calls:
        kwargs = {} if body is None else {"json": body}
        r = await site.admin.request(method, path, **kwargs)
        out.append((path, body, r.status_code, r.text[:200]))
    for _ in range(10):
        r = await site.admin.post(f"/admin/users/{site.user_id}/credits", json={"amount": "1000000000", "reason": "x"})
        out.append(("add 1e9", r.status_code, r.text[:200]))
    for path, body in [("/user/coupons/redeem", {"code": "nope!"}), ("/user/coupons/redeem", {"code": 5}),
                       ("/user/referral", {"code": "x" * 32}), ("/user/referral", {"code": "  "}),
                       ("/user/trial", None)]:
        kwargs = {} if body is None else {"json": body}
        r = await site.user.post(path, **kwargs)
        out.append((path, body, r.status_code, r.text[:200]))
    for o in out:
        print(o)
    assert False

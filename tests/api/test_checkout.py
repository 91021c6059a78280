"""POST /user/checkout and GET /user/payments over HTTP."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.stripe_shop import STRIPE_KEY, Shop, open_shop
from tests.fakes.openai_upstream import FakeOpenAIUpstream


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Shop]:
    async with open_shop(database_url, engine, upstream) as opened:
        yield opened


async def test_checkout_answers_the_session_to_send_the_user_to(shop: Shop) -> None:
    user_id, headers = await shop.user("buyer@example.com")

    started = await shop.checkout(headers, "42.5")

    assert started.status_code == 200
    body = started.json()
    session = shop.stripe.sessions[body["id"]]
    assert body["url"] == session["url"]
    assert (session["amount_total"], session["currency"]) == (4250, "usd")
    assert session["client_reference_id"] == str(user_id)
    listed = (await shop.http.get("/user/payments", headers=headers)).json()["data"]
    assert [(p["id"], p["status"], p["amount"], p["credits"]) for p in listed] == [
        (body["payment_id"], "pending", "42.50", "42.5")
    ]


@pytest.mark.parametrize(
    "amount", ["abc", "0.5", "500.01", "1.001", None, "1e100", "-1e-100", "9" * 40, True]
)
async def test_a_bad_amount_is_refused_naming_it(shop: Shop, amount: str | None) -> None:
    _, headers = await shop.user("buyer@example.com")
    body = {} if amount is None else {"amount": amount}

    refused = await shop.http.post("/user/checkout", json=body, headers=headers)

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "amount"
    assert shop.stripe.requests == []


async def test_a_stripe_failure_is_a_502_naming_stripe(shop: Shop) -> None:
    _, headers = await shop.user("buyer@example.com")
    shop.stripe.fail_status = 400

    failed = await shop.checkout(headers, "10")

    assert failed.status_code == 502
    assert failed.json()["error"]["message"].startswith("stripe:")
    assert STRIPE_KEY not in failed.text
    assert (await shop.http.get("/user/payments", headers=headers)).json()["data"] == []


async def test_payments_are_private_and_need_a_key(shop: Shop) -> None:
    _, buyer = await shop.user("buyer@example.com")
    _, other = await shop.user("other@example.com")
    await shop.buy(buyer, "10")

    theirs = await shop.http.get("/user/payments", headers=other)
    anonymous = await shop.http.post("/user/checkout", json={"amount": "10"})

    assert theirs.json()["data"] == []
    assert anonymous.status_code == 401
    assert len(shop.stripe.requests) == 1

"""Referrals over HTTP: the caller's code, naming a referrer, and the reward on the referred
user's first settled purchase."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.stripe_shop import UNITS, Shop, open_shop
from tests.fakes.openai_upstream import FakeOpenAIUpstream


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Shop]:
    rewards = {"reward_credits": "5", "referred_reward_credits": "1.5"}
    async with open_shop(database_url, engine, upstream, referrals=rewards) as opened:
        yield opened


async def test_the_referrer_is_rewarded_once_for_the_first_purchase(shop: Shop) -> None:
    alice_id, alice = await shop.user("alice@example.com")
    bob_id, bob = await shop.user("bob@example.com")
    code = (await shop.http.get("/user/referral", headers=alice)).json()["code"]

    named = await shop.http.post("/user/referral", json={"code": code}, headers=bob)
    assert named.status_code == 200
    assert named.json()["referred_by"] == code
    await shop.buy(bob, "10")
    await shop.buy(bob, "30")

    assert await shop.ledger_rows(alice_id) == [("referral_reward", 5 * UNITS)]
    assert await shop.ledger_rows(bob_id) == [
        ("purchase", 10 * UNITS),
        ("referral_welcome", 1_500_000_000),
        ("purchase", 30 * UNITS),
    ]
    summary = (await shop.http.get("/user/referral", headers=alice)).json()
    assert summary == {
        "code": code,
        "referred_by": None,
        "referred_users": 1,
        "rewarded_referrals": 1,
        "rewards_earned": "5",
        "reward_per_referral": "5",
    }
    await shop.assert_balances_match_ledger()


async def test_a_referrer_cannot_be_named_after_a_purchase_or_for_oneself(shop: Shop) -> None:
    alice_id, alice = await shop.user("alice@example.com")
    _, bob = await shop.user("bob@example.com")
    alice_code = (await shop.http.get("/user/referral", headers=alice)).json()["code"]
    bob_code = (await shop.http.get("/user/referral", headers=bob)).json()["code"]
    await shop.buy(bob, "10")

    late = await shop.http.post("/user/referral", json={"code": alice_code}, headers=bob)
    own = await shop.http.post("/user/referral", json={"code": alice_code}, headers=alice)
    unknown = await shop.http.post("/user/referral", json={"code": "NOBODY99"}, headers=alice)

    assert late.status_code == own.status_code == 400
    assert "before your first purchase" in late.json()["error"]["message"]
    assert "own referral code" in own.json()["error"]["message"]
    assert late.json()["error"]["param"] == own.json()["error"]["param"] == "code"
    assert unknown.status_code == 404
    assert await shop.ledger_rows(alice_id) == []
    assert bob_code != alice_code


async def test_a_loop_is_refused_over_http(shop: Shop) -> None:
    _, alice = await shop.user("alice@example.com")
    _, bob = await shop.user("bob@example.com")
    alice_code = (await shop.http.get("/user/referral", headers=alice)).json()["code"]
    bob_code = (await shop.http.get("/user/referral", headers=bob)).json()["code"]
    await shop.http.post("/user/referral", json={"code": alice_code}, headers=bob)

    loop = await shop.http.post("/user/referral", json={"code": bob_code}, headers=alice)

    assert loop.status_code == 400
    assert "referred by you" in loop.json()["error"]["message"]
    assert (await shop.http.get("/user/referral", headers=alice)).json()["referred_by"] is None


@pytest.mark.parametrize("code", ["   ", "K7QM\x00XPA", "K7QM-XPA"])
async def test_a_code_that_is_not_letters_and_digits_is_a_400(shop: Shop, code: str) -> None:
    _, alice = await shop.user("alice@example.com")

    refused = await shop.http.post("/user/referral", json={"code": code}, headers=alice)

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "code"
    assert (await shop.http.get("/user/referral", headers=alice)).json()["referred_by"] is None

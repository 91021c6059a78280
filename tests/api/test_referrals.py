"""Referrals over HTTP: the caller's code, naming a referrer, and the reward on the referred
user's first settled purchase."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
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


@dataclass
class Referred:
    """Alice referred Bob, who bought credits in `session_id`."""

    alice_id: int
    alice: dict[str, str]
    bob_id: int
    bob: dict[str, str]
    session_id: str


async def _referred_purchase(shop: Shop, amount: str) -> Referred:
    alice_id, alice = await shop.user("alice@example.com")
    bob_id, bob = await shop.user("bob@example.com")
    code = (await shop.http.get("/user/referral", headers=alice)).json()["code"]
    assert (await shop.http.post("/user/referral", json={"code": code}, headers=bob)).is_success
    return Referred(alice_id, alice, bob_id, bob, await shop.buy(bob, amount))


async def test_a_refund_takes_back_its_share_of_the_referral_rewards_once(shop: Shop) -> None:
    referred = await _referred_purchase(shop, "10")
    half = shop.stripe.refunded_charge(referred.session_id, 500)

    await shop.deliver("charge.refunded", half)
    await shop.deliver("charge.refunded", half)

    assert await shop.ledger_rows(referred.alice_id) == [
        ("referral_reward", 5 * UNITS),
        ("referral_reversal", -2_500_000_000),
    ]
    assert await shop.balance(referred.bob_id) == 5_750_000_000  # half of 10 + 1.5 is left
    summary = (await shop.http.get("/user/referral", headers=referred.alice)).json()
    assert (summary["rewarded_referrals"], summary["rewards_earned"]) == (1, "2.5")
    await shop.assert_balances_match_ledger()


async def test_a_referrer_who_spent_the_reward_loses_what_is_left_and_the_rest_is_recorded(
    shop: Shop,
) -> None:
    referred = await _referred_purchase(shop, "10")
    _, admin = await shop.user("admin@example.com", role="admin")
    await ledger.change_credits(
        shop.engine,
        referred.alice_id,
        -4 * UNITS,
        kind="usage",
        reason="calls",
        idempotency_key="spent",
    )

    refund = shop.stripe.refunded_charge(referred.session_id, 1000)
    await shop.deliver("charge.refunded", refund)

    assert await shop.balance(referred.alice_id) == 0
    assert (await shop.ledger_rows(referred.alice_id))[-1] == ("referral_reversal", -UNITS)
    (listed,) = await shop.admin_payments(admin, user_id=referred.bob_id)
    assert listed["referrer_id"] == referred.alice_id
    assert (listed["referral_credits"], listed["referral_credits_reversed"]) == ("5", "1")
    assert listed["referral_credits_not_reversed"] == "4"
    await shop.assert_balances_match_ledger()


async def test_a_lost_dispute_takes_the_referral_reward_and_a_won_one_gives_it_back(
    shop: Shop,
) -> None:
    referred = await _referred_purchase(shop, "10")

    opened = shop.stripe.dispute(referred.session_id, "needs_response")
    await shop.deliver("charge.dispute.created", opened)
    assert await shop.balance(referred.alice_id) == 0
    assert await shop.balance(referred.bob_id) == 0
    await shop.deliver("charge.dispute.closed", shop.stripe.dispute(referred.session_id, "won"))

    assert await shop.balance(referred.alice_id) == 5 * UNITS
    assert await shop.balance(referred.bob_id) == 11_500_000_000
    assert await shop.ledger_rows(referred.alice_id) == [
        ("referral_reward", 5 * UNITS),
        ("referral_reversal", -5 * UNITS),
        ("referral_reversal", 5 * UNITS),
    ]
    await shop.assert_balances_match_ledger()

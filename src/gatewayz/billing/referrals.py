"""Referrals: every user has a code; a new user names who referred them before their first
purchase, and the referrer is rewarded once, when that first purchase settles. The rewards
are tied to that payment: its refunds and lost disputes take back their share of them
(payment_claims.py, ledger kind `referral_reversal`)."""

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing.ledger import apply_change
from gatewayz.billing.money import credits_to_units
from gatewayz.billing.stripe_settings import ReferralSettings
from gatewayz.store.tables import ledger, payments, users

REWARD_KIND = "referral_reward"
WELCOME_KIND = "referral_welcome"
REVERSAL_KIND = "referral_reversal"
SETTLED_STATUSES = ("paid", "partially_refunded", "refunded")
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 8
# Key of the PostgreSQL advisory lock that serialises changes of referrers, so that two
# users naming each other at the same moment cannot form a loop.
_REFERRER_LOCK = 0x67777266


class ReferralError(Exception):
    """The referrer cannot be set; the message says why."""


class UnknownReferralCode(ReferralError):
    """No user has that referral code."""


@dataclass(frozen=True, slots=True)
class Rewards:
    """The referral rewards one purchase gave: to the referrer, and the buyer's welcome."""

    referrer_id: int | None = None
    referrer_units: int = 0
    welcome_units: int = 0


@dataclass(frozen=True, slots=True)
class ReferralSummary:
    code: str
    referred_by: str | None
    referred_users: int
    rewarded_referrals: int
    rewards_units: int


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))


async def referral_code(engine: AsyncEngine, user_id: int) -> str:
    """The user's referral code, created on first use."""
    for _ in range(5):
        async with engine.connect() as conn:
            code = await conn.scalar(select(users.c.referral_code).where(users.c.id == user_id))
        if code is not None:
            return str(code)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    update(users)
                    .where(users.c.id == user_id, users.c.referral_code.is_(None))
                    .values(referral_code=new_code())
                )
        except IntegrityError:
            continue
    raise RuntimeError("could not create a unique referral code")


async def summary(engine: AsyncEngine, user_id: int) -> ReferralSummary:
    code = await referral_code(engine, user_id)
    referrer = users.alias("referrer")
    async with engine.connect() as conn:
        referred_by = await conn.scalar(
            select(referrer.c.referral_code)
            .select_from(users.join(referrer, referrer.c.id == users.c.referred_by))
            .where(users.c.id == user_id)
        )
        referred = await conn.scalar(
            select(func.count()).select_from(users).where(users.c.referred_by == user_id)
        )
        rewards = (
            await conn.execute(
                select(
                    func.count().filter(ledger.c.kind == REWARD_KIND),
                    func.coalesce(func.sum(ledger.c.amount_units), 0),
                ).where(
                    ledger.c.user_id == user_id,
                    ledger.c.kind.in_((REWARD_KIND, REVERSAL_KIND)),
                )
            )
        ).one()
    return ReferralSummary(code, referred_by, int(referred or 0), int(rewards[0]), int(rewards[1]))


async def set_referrer(engine: AsyncEngine, user_id: int, code: str) -> int:
    """Record who referred `user_id`, once and before their first purchase; the referrer's id."""
    code = code.strip().upper()
    if not code.isalnum():
        raise ReferralError("A referral code is letters and digits, such as K7QM2XPA.")
    async with engine.begin() as conn:
        if conn.dialect.name != "sqlite":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _REFERRER_LOCK})
        referrer_id = await conn.scalar(select(users.c.id).where(users.c.referral_code == code))
        if referrer_id is None:
            raise UnknownReferralCode(f"No user has the referral code {code}.")
        if referrer_id == user_id:
            raise ReferralError("You cannot use your own referral code.")
        # Locking the user's row orders this change against the settlement of a purchase.
        current_query = select(users.c.referred_by).where(users.c.id == user_id)
        if conn.dialect.name != "sqlite":
            current_query = current_query.with_for_update()
        current = await conn.scalar(current_query)
        if current is not None:
            raise ReferralError("Your referrer is already set; it cannot be changed.")
        if await _has_settled_purchase(conn, user_id):
            raise ReferralError("A referrer can only be set before your first purchase.")
        if user_id in await _referrer_chain(conn, referrer_id):
            raise ReferralError(
                f"The owner of {code} was (directly or indirectly) referred by you."
            )
        await conn.execute(
            update(users).where(users.c.id == user_id).values(referred_by=referrer_id)
        )
    return int(referrer_id)


async def reward_first_purchase(
    conn: AsyncConnection, user_id: int, referrer_id: int | None, settings: ReferralSettings
) -> Rewards:
    """Reward the referrer (and, if configured, the referred user) once, in the caller's
    transaction; the idempotency keys make every later purchase a no-op. Returns what this
    purchase gave."""
    if referrer_id is None:
        return Rewards()
    reward = credits_to_units(settings.reward_credits)
    given = 0
    if reward:
        change = await apply_change(
            conn,
            referrer_id,
            reward,
            kind=REWARD_KIND,
            reason=f"referral: first purchase of user {user_id}",
            idempotency_key=f"referral:{user_id}",
        )
        given = reward if change.applied_now else 0
    welcome = credits_to_units(settings.referred_reward_credits)
    welcomed = 0
    if welcome:
        change = await apply_change(
            conn,
            user_id,
            welcome,
            kind=WELCOME_KIND,
            reason="referral: reward for a referred user's first purchase",
            idempotency_key=f"referral_welcome:{user_id}",
        )
        welcomed = welcome if change.applied_now else 0
    return Rewards(referrer_id if given else None, given, welcomed)


async def _has_settled_purchase(conn: AsyncConnection, user_id: int) -> bool:
    query = select(payments.c.id).where(
        payments.c.user_id == user_id, payments.c.status.in_(SETTLED_STATUSES)
    )
    return await conn.scalar(query.limit(1)) is not None


async def _referrer_chain(conn: AsyncConnection, user_id: int) -> set[int]:
    """`user_id` and everyone above it in the chain of referrers."""
    chain: set[int] = set()
    current: int | None = user_id
    while current is not None and current not in chain:
        chain.add(current)
        current = await conn.scalar(select(users.c.referred_by).where(users.c.id == current))
    return chain

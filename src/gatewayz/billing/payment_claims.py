"""What refunds and disputes take back from the credits a payment gave.

A payment gave credits to two parties: its buyer (the purchase, its coupon bonus and the
referral welcome) and the buyer's referrer (the referral reward). Each source of a claim on
the payment, its refunds ("refund") and each dispute holding funds ("dispute:<id>"), claims
the share of those credits that its cents are of the amount paid. The refunded total counts
first; a dispute claims at most what refunds and earlier disputes left, so together they
never claim more than was given.

`reconcile` moves every claim to what Stripe's state says (stripe_state.py), in the caller's
transaction, with the payment and the intent locked: it depends on that state only, never on
the order of the events, and a second run changes nothing. Credits given back (a dispute
won) are given first, then credits are taken, each at most down to the party's balance
(never below zero); what could not be taken is recorded as unrecovered on the claim and
never taken later. Giving back forgives the unrecovered part first, then returns what was
taken. Every ledger row's idempotency key names its claim and the claim's change count.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.billing.ledger import apply_change, balance_units
from gatewayz.billing.money import format_credits
from gatewayz.billing.payments import format_cents
from gatewayz.billing.referrals import REVERSAL_KIND
from gatewayz.billing.stripe_state import intent_disputes
from gatewayz.store.tables import payment_claims, payment_intents, payments, users

REFUND = "refund"
DISPUTE = "dispute:"
SETTLED = ("paid", "partially_refunded", "refunded")
_BUYER, _REFERRER = "buyer", "referrer"


@dataclass(frozen=True, slots=True)
class Claimed:
    """What one reconciliation did, in credit units over both parties."""

    taken_units: int = 0
    given_back_units: int = 0
    unrecovered_units: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.taken_units or self.given_back_units or self.unrecovered_units)


@dataclass(slots=True)
class _Claim:
    """One claim's counters while they are reconciled."""

    id: int | None
    source: str
    cents: int
    taken: dict[str, int]
    unrecovered: dict[str, int]
    changes: int


@dataclass(frozen=True, slots=True)
class _Party:
    name: str
    user_id: int | None
    granted_units: int


async def reconcile(conn: AsyncConnection, payment: Row[Any]) -> Claimed:
    """Bring the payment's claims to what Stripe's state says; the payment row and its intent
    are locked by the caller."""
    refunded, targets, dispute_status = await _targets(conn, payment)
    claims = await _claims(conn, payment.id)
    for source in targets.keys() - claims.keys():
        claims[source] = _Claim(None, source, 0, {}, {}, 0)
    parties = _parties(payment)
    await _lock_users(conn, [party.user_id for party in parties])
    moves = []
    for claim in claims.values():
        claim.cents = targets.get(claim.source, 0)
        for party in parties:
            owed = _share(party, claim.cents, payment.amount_cents)
            delta = owed - claim.taken.get(party.name, 0) - claim.unrecovered.get(party.name, 0)
            moves.append((claim, party, delta))
    taken = given = short = 0
    for claim, party, delta in sorted(moves, key=lambda move: move[2] > 0):
        if delta < 0:
            given += await _give_back(conn, payment, claim, party, -delta)
        elif delta > 0:
            took = await _take(conn, payment, claim, party, delta)
            taken, short = taken + took, short + delta - took
    for claim in claims.values():
        await _save(conn, payment.id, claim)
    await _summarise(conn, payment, list(claims.values()), refunded, targets, dispute_status)
    return Claimed(taken, given, short)


async def _targets(
    conn: AsyncConnection, payment: Row[Any]
) -> tuple[int, dict[str, int], str | None]:
    """The refunded cents, the cents each source claims now, and the latest dispute's status."""
    if payment.payment_intent_id is None:
        return payment.refunded_cents, {}, None
    amount = payment.amount_cents
    stored = await conn.scalar(
        select(payment_intents.c.refunded_cents).where(
            payment_intents.c.id == payment.payment_intent_id
        )
    )
    refunded = min(int(stored or 0), amount)
    targets = {REFUND: refunded}
    left = amount - refunded
    disputes = await intent_disputes(conn, payment.payment_intent_id)
    for dispute in disputes:
        held = min(dispute.amount_cents, left) if dispute.holds else 0
        targets[DISPUTE + dispute.id] = held
        left -= held
    return refunded, targets, disputes[-1].status if disputes else None


async def _claims(conn: AsyncConnection, payment_id: int) -> dict[str, _Claim]:
    query = select(payment_claims).where(payment_claims.c.payment_id == payment_id)
    rows = await conn.execute(query)
    return {
        row.source: _Claim(
            row.id,
            row.source,
            row.cents,
            {_BUYER: row.buyer_taken_units, _REFERRER: row.referrer_taken_units},
            {_BUYER: row.buyer_unrecovered_units, _REFERRER: row.referrer_unrecovered_units},
            row.changes,
        )
        for row in rows
    }


def _parties(payment: Row[Any]) -> list[_Party]:
    """Who the payment credited, and with how much (nothing until it was credited)."""
    if payment.status not in SETTLED:
        return []
    buyer = payment.credits_units + payment.bonus_units + payment.welcome_units
    parties = [_Party(_BUYER, payment.user_id, buyer)]
    if payment.referrer_id is not None and payment.referral_units:
        parties.append(_Party(_REFERRER, payment.referrer_id, payment.referral_units))
    return parties


def _share(party: _Party, cents: int, amount_cents: int) -> int:
    """The units of the party's credits that `cents` of the payment claim (rounded down)."""
    return party.granted_units * cents // amount_cents if amount_cents else 0


async def _lock_users(conn: AsyncConnection, user_ids: Iterable[int | None]) -> None:
    """Lock the parties' rows in id order (SQLite's write transactions are exclusive)."""
    ids = sorted({user_id for user_id in user_ids if user_id is not None})
    if ids and conn.dialect.name != "sqlite":
        await conn.execute(
            select(users.c.id).where(users.c.id.in_(ids)).order_by(users.c.id).with_for_update()
        )


async def _take(
    conn: AsyncConnection, payment: Row[Any], claim: _Claim, party: _Party, due: int
) -> int:
    """Take up to `due` units from the party, at most its balance; the units taken."""
    assert party.user_id is not None
    took = max(0, min(due, await balance_units(conn, party.user_id, lock=True)))
    claim.taken[party.name] = claim.taken.get(party.name, 0) + took
    claim.unrecovered[party.name] = claim.unrecovered.get(party.name, 0) + due - took
    reason = f"{_what(payment, claim, party)}: {format_credits(took)} credits taken back"
    if due > took:
        reason += f"; {format_credits(due - took)} credits were already spent and not reversed"
    await _write(conn, payment, claim, party, -took, reason)
    return took


async def _give_back(
    conn: AsyncConnection, payment: Row[Any], claim: _Claim, party: _Party, excess: int
) -> int:
    """Release `excess` units of the claim: forgive the unrecovered part first, then give
    back what was taken; the units given back."""
    forgiven = min(excess, claim.unrecovered.get(party.name, 0))
    claim.unrecovered[party.name] -= forgiven
    given = excess - forgiven
    if given:
        claim.taken[party.name] -= given
        reason = f"{_what(payment, claim, party)}: {format_credits(given)} credits given back"
        await _write(conn, payment, claim, party, given, reason)
    return given


def _what(payment: Row[Any], claim: _Claim, party: _Party) -> str:
    """What the claim is, for a ledger row's reason."""
    money = f"{format_cents(claim.cents)} {payment.currency.upper()}"
    if claim.source == REFUND:
        what = f"refund of {money} in total on payment {payment.id}"
    else:
        dispute = claim.source.removeprefix(DISPUTE)
        what = f"dispute {dispute} holding {money} of payment {payment.id}"
    if party.name == _REFERRER:
        return f"referral reward for user {payment.user_id}'s purchase, {what}"
    return what


async def _write(
    conn: AsyncConnection,
    payment: Row[Any],
    claim: _Claim,
    party: _Party,
    units: int,
    reason: str,
) -> None:
    """The ledger row of one change of the claim."""
    assert party.user_id is not None
    await _ensure_row(conn, payment.id, claim)
    claim.changes += 1
    kind = REVERSAL_KIND if party.name == _REFERRER else claim.source.split(":")[0]
    await apply_change(
        conn,
        party.user_id,
        units,
        kind=kind,
        reason=reason,
        idempotency_key=f"claim:{claim.id}:{claim.changes}",
    )


async def _ensure_row(conn: AsyncConnection, payment_id: int, claim: _Claim) -> None:
    if claim.id is None:
        claim.id = await conn.scalar(
            payment_claims.insert()
            .values(payment_id=payment_id, source=claim.source)
            .returning(payment_claims.c.id)
        )


async def _save(conn: AsyncConnection, payment_id: int, claim: _Claim) -> None:
    if claim.id is None and not claim.cents:
        return
    await _ensure_row(conn, payment_id, claim)
    await conn.execute(
        update(payment_claims)
        .where(payment_claims.c.id == claim.id)
        .values(
            cents=claim.cents,
            buyer_taken_units=claim.taken.get(_BUYER, 0),
            buyer_unrecovered_units=claim.unrecovered.get(_BUYER, 0),
            referrer_taken_units=claim.taken.get(_REFERRER, 0),
            referrer_unrecovered_units=claim.unrecovered.get(_REFERRER, 0),
            changes=claim.changes,
        )
    )


async def _summarise(
    conn: AsyncConnection,
    payment: Row[Any],
    claims: list[_Claim],
    refunded: int,
    targets: dict[str, int],
    dispute_status: str | None,
) -> None:
    """Keep the payment's totals (what GET /user/payments and /admin/payments show)."""
    status = payment.status
    if status in SETTLED:
        status = "paid" if not refunded else "partially_refunded"
        status = "refunded" if refunded >= payment.amount_cents else status
    await conn.execute(
        update(payments)
        .where(payments.c.id == payment.id)
        .values(
            status=status,
            refunded_cents=refunded,
            reversed_units=sum(claim.taken.get(_BUYER, 0) for claim in claims),
            unreversed_units=sum(claim.unrecovered.get(_BUYER, 0) for claim in claims),
            referral_reversed_units=sum(claim.taken.get(_REFERRER, 0) for claim in claims),
            referral_unreversed_units=sum(claim.unrecovered.get(_REFERRER, 0) for claim in claims),
            disputed_cents=sum(cents for source, cents in targets.items() if source != REFUND),
            dispute_status=dispute_status,
            updated_at=func.now(),
        )
    )

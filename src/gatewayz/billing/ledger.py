"""The credit ledger: holds (reserve), settlement of calls, and credit changes.

`users.balance_units` always equals the sum of the user's ledger rows: every change of it
is written in the same transaction as its ledger row. A reservation is a hold
(`users.reserved_units`), not a balance change: it only limits what other calls may hold.

A call is always charged its full cost. Only that can take a balance below zero: when a call
cost more than its hold covered (an upstream billed past the limits it was sent), the excess
is its shortfall, recorded on its ledger row; a balance below zero holds nothing, so the
user's calls are refused until credits pay the debt. Every other removal of credits is
refused, or stops, at zero.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing import hold_owners, key_spend, revocations
from gatewayz.billing.money import format_credits
from gatewayz.store.tables import ledger, users

log = logging.getLogger(__name__)


class InsufficientBalance(Exception):
    """The change would take the balance below zero."""


class UnknownUser(Exception):
    """No user has that id."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """The end of one call: charge what it really cost and release `released_units` of hold;
    count the charge as spent by key `key_id` and release `key_held_units` of its hold.
    `shortfall_units` is the part of the cost the call's hold did not cover."""

    user_id: int
    request_id: str
    released_units: int
    cost_units: int
    reason: str
    key_id: int | None = None
    key_held_units: int = 0
    owner: str | None = None
    shortfall_units: int = 0


@dataclass(frozen=True, slots=True)
class HoldRelease:
    """Hold that no call needs any more, given back to the user's available balance."""

    user_id: int
    released_units: int
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class CreditChange:
    """A ledger row written by a credit change, or found because it was applied before."""

    amount_units: int
    balance_after_units: int
    applied_now: bool


_RESERVE = (
    update(users)
    .where(
        users.c.id == bindparam("user_id"),
        users.c.balance_units - users.c.reserved_units >= bindparam("least"),
    )
    .values(reserved_units=users.c.reserved_units + bindparam("units"))
)


async def reserve(
    engine: AsyncEngine,
    user_id: int,
    units: int,
    owner: str | None = None,
    *,
    unheld_at_least: int | None = None,
) -> bool:
    """Hold `units` of the user's balance if the unheld part covers them (and is at least
    `unheld_at_least`, when given).

    Without an owner, one conditional UPDATE in autocommit mode: atomic on its own, one round
    trip. With one, the hold is also recorded as the owner's (see hold_owners), in the same
    transaction.
    """
    least = units if unheld_at_least is None else max(units, unheld_at_least)
    values = {"user_id": user_id, "units": units, "least": least}
    if owner is None:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            result = await conn.execute(_RESERVE, values)
        return result.rowcount == 1
    async with engine.begin() as conn:
        result = await conn.execute(_RESERVE, values)
        if result.rowcount != 1:
            return False
        await hold_owners.record_taken(conn, owner, hold_owners.USER, user_id, units)
    return True


async def unheld_units(engine: AsyncEngine, user_id: int) -> int | None:
    """The part of the user's balance no hold covers; None for an unknown user."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(users.c.balance_units - users.c.reserved_units).where(users.c.id == user_id)
        )
    return None if found is None else int(found)


async def settle(conn: AsyncConnection, settlements: list[Settlement | HoldRelease]) -> list[int]:
    """Release holds and charge the calls' costs in full, in the caller's transaction.

    Returns the ids of the users whose calls had a shortfall in this batch: their balance
    went below what their holds covered, so every lease of theirs must stop serving.
    A call's shortfall is the part of its cost its hold did not cover, or, if more, the part
    that took the balance below zero (a hold served from a lease after credits were removed).
    """
    user_ids = sorted({s.user_id for s in settlements})
    query = select(users.c.id, users.c.balance_units, users.c.reserved_units).where(
        users.c.id.in_(user_ids)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    current = {row[0]: (row[1], row[2]) for row in await conn.execute(query)}
    balances = {user_id: values[0] for user_id, values in current.items()}
    released: dict[int, int] = defaultdict(int)
    rows = []
    keys: list[tuple[int, int, int]] = []
    given_back: list[tuple[str, str, int, int]] = []
    short: set[int] = set()
    for item in settlements:
        released[item.user_id] += item.released_units
        if item.owner is not None:
            given_back.append((item.owner, hold_owners.USER, item.user_id, item.released_units))
        if isinstance(item, HoldRelease):
            continue
        if item.key_id is not None:
            keys.append((item.key_id, item.cost_units, item.key_held_units))
            if item.owner is not None:
                given_back.append((item.owner, hold_owners.KEY, item.key_id, item.key_held_units))
        if item.cost_units == 0:
            continue
        balances[item.user_id] -= item.cost_units
        rows.append(_usage_row(item, balances[item.user_id]))
        if rows[-1]["shortfall_units"]:
            short.add(item.user_id)
    if rows:
        await conn.execute(ledger.insert(), rows)
    await key_spend.record(conn, keys)
    await hold_owners.record_given_back(conn, _merged(given_back))
    for user_id in user_ids:
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                balance_units=balances[user_id],
                reserved_units=max(0, current[user_id][1] - released[user_id]),
            )
        )
    await revocations.record_revocation(conn, sorted(short | _over_hold(settlements)))
    return sorted(short)


def _over_hold(settlements: list[Settlement | HoldRelease]) -> set[int]:
    """The users of calls that cost more than the hold they release: the charge lowered the
    balance past what their holds covered, so other processes' leases may now hold too much."""
    return {
        s.user_id
        for s in settlements
        if isinstance(s, Settlement) and s.cost_units > s.released_units
    }


def _usage_row(item: Settlement, balance_after: int) -> dict[str, Any]:
    """The ledger row charging a call, with its shortfall (see settle); a debt that no hold
    reported (the call's hold covered it) is logged here."""
    below_zero = min(item.cost_units, -balance_after) if balance_after < 0 else 0
    if below_zero > item.shortfall_units:
        log.warning(
            "credit shortfall: request %s user %d charged %s credits the balance no longer "
            "held (credits removed, or taken by another shortfall, meanwhile): balance %s",
            item.request_id,
            item.user_id,
            format_credits(item.cost_units),
            format_credits(balance_after),
        )
    return {
        "user_id": item.user_id,
        "amount_units": -item.cost_units,
        "balance_after_units": balance_after,
        "shortfall_units": max(item.shortfall_units, below_zero),
        "kind": "usage",
        "reason": item.reason,
        "idempotency_key": f"call:{item.request_id}",
        "request_id": item.request_id,
    }


def _merged(given_back: list[tuple[str, str, int, int]]) -> list[tuple[str, str, int, int]]:
    """One row per (owner, kind, subject) with the units summed."""
    total: dict[tuple[str, str, int], int] = defaultdict(int)
    for owner, kind, subject_id, units in given_back:
        total[owner, kind, subject_id] += units
    return [(*subject, units) for subject, units in total.items()]


async def change_credits(
    engine: AsyncEngine,
    user_id: int,
    amount_units: int,
    *,
    kind: str,
    reason: str | None,
    idempotency_key: str,
) -> CreditChange:
    """Add (or, negative, remove) credits exactly once per idempotency key, in a transaction
    of its own."""
    existing = await _find_change(engine, idempotency_key)
    if existing is not None:
        return existing
    try:
        async with engine.begin() as conn:
            return await apply_change(
                conn,
                user_id,
                amount_units,
                kind=kind,
                reason=reason,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        existing = await _find_change(engine, idempotency_key)
        if existing is None:
            raise
        return existing


async def apply_change(
    conn: AsyncConnection,
    user_id: int,
    amount_units: int,
    *,
    kind: str,
    reason: str | None,
    idempotency_key: str,
    request_id: str | None = None,
) -> CreditChange:
    """Change the balance and write its ledger row in the caller's transaction.

    A negative change also records a revocation (see revocations), so every process gives
    back the leases it holds for the user. A key already in the ledger returns that row and
    changes nothing. A concurrent transaction writing the same key makes this one fail on
    the key's unique index (IntegrityError), so the change is never applied twice; callers
    that may race retry or treat that as "applied".
    """
    found = (
        await conn.execute(
            select(ledger.c.amount_units, ledger.c.balance_after_units).where(
                ledger.c.idempotency_key == idempotency_key
            )
        )
    ).first()
    if found is not None:
        return CreditChange(found[0], found[1], applied_now=False)
    change = update(users).where(users.c.id == user_id)
    if amount_units < 0:  # a removal stops at zero; an addition may pay a debt off
        change = change.where(users.c.balance_units + amount_units >= 0)
    result = await conn.execute(
        change.values(balance_units=users.c.balance_units + amount_units).returning(
            users.c.balance_units
        )
    )
    balance_after = result.scalar_one_or_none()
    if balance_after is None:
        known = await conn.scalar(select(users.c.id).where(users.c.id == user_id))
        raise UnknownUser(user_id) if known is None else InsufficientBalance(user_id)
    await conn.execute(
        ledger.insert().values(
            user_id=user_id,
            amount_units=amount_units,
            balance_after_units=balance_after,
            kind=kind,
            reason=reason,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
    )
    if amount_units < 0:  # leases taken before may now hold more than is left
        await revocations.record_revocation(conn, [user_id])
    return CreditChange(amount_units, balance_after, applied_now=True)


async def debt(
    engine: AsyncEngine, user_id: int, request_id: str | None = None
) -> tuple[int, bool]:
    """How far the user's settled balance is below zero (0 when it is not, or no such user),
    and whether the call `request_id` is settled yet (False without one)."""
    settled = select(ledger.c.id).where(ledger.c.idempotency_key == f"call:{request_id}")
    async with engine.connect() as conn:
        balance = await conn.scalar(select(users.c.balance_units).where(users.c.id == user_id))
        found = request_id is not None and await conn.scalar(settled) is not None
    return max(0, -int(balance or 0)), found


async def balance_units(conn: AsyncConnection, user_id: int, *, lock: bool = False) -> int:
    """The user's settled balance, optionally locking the row until the transaction ends
    (SQLite's write transactions are already exclusive)."""
    query = select(users.c.balance_units).where(users.c.id == user_id)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    found = await conn.scalar(query)
    if found is None:
        raise UnknownUser(user_id)
    return int(found)


async def _find_change(engine: AsyncEngine, idempotency_key: str) -> CreditChange | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(ledger.c.amount_units, ledger.c.balance_after_units).where(
                    ledger.c.idempotency_key == idempotency_key
                )
            )
        ).first()
    return None if row is None else CreditChange(row[0], row[1], applied_now=False)

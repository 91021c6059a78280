"""The batch writer's sink for settlements: ledger.settle, giving back no more of a hold than
its owner still has recorded.

Settlements can reach the database long after their calls ended: retried through an outage,
or replayed from the journal of a process that stopped while the database was down. If the
owning process's holds were reclaimed meanwhile (see hold_owners: it died, or stalled past
`holds.stale_seconds`), that credit is free already; releasing it again would free credit
that other calls hold. So each release is capped at what the owner still records for that
user or key (nothing once reclaimed); the charge itself is always made.
"""

from collections import defaultdict
from dataclasses import replace

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.billing import hold_owners, ledger
from gatewayz.store.tables import gateway_processes, process_holds

Item = ledger.Settlement | ledger.HoldRelease
_Subject = tuple[str, str, int]  # (owner, kind, user or key id)


async def settle(conn: AsyncConnection, items: list[Item]) -> None:
    """Settle `items` in the caller's transaction, releasing only holds still recorded."""
    held = await _still_held(conn, items)
    await ledger.settle(conn, [_capped(item, held) for item in items])


async def _still_held(conn: AsyncConnection, items: list[Item]) -> dict[_Subject, int]:
    """What each owner of `items` still records as held, per user and key.

    On PostgreSQL the owners' process rows are locked FOR SHARE first: a reclaim (which
    locks them FOR UPDATE) then waits for this transaction, or this one for the reclaim,
    so a hold is never given back by both.
    """
    owners = sorted({item.owner for item in items if item.owner is not None})
    if not owners:
        return {}
    if conn.dialect.name != "sqlite":
        await conn.execute(
            select(gateway_processes.c.id)
            .where(gateway_processes.c.id.in_(owners))
            .order_by(gateway_processes.c.id)
            .with_for_update(read=True)
        )
    subjects = set()
    for item in items:
        if item.owner is not None:
            subjects.add((item.owner, hold_owners.USER, item.user_id))
            if isinstance(item, ledger.Settlement) and item.key_id is not None:
                subjects.add((item.owner, hold_owners.KEY, item.key_id))
    key = tuple_(process_holds.c.process_id, process_holds.c.kind, process_holds.c.subject_id)
    rows = await conn.execute(
        select(
            process_holds.c.process_id,
            process_holds.c.kind,
            process_holds.c.subject_id,
            process_holds.c.units,
        ).where(key.in_(sorted(subjects)))
    )
    held: dict[_Subject, int] = defaultdict(int)
    for owner, kind, subject_id, units in rows:
        held[owner, kind, subject_id] = max(0, int(units))
    return held


def _capped(item: Item, held: dict[_Subject, int]) -> Item:
    """The item releasing at most what its owner still holds (taken from `held`)."""
    if item.owner is None:
        return item
    user = _take(held, (item.owner, hold_owners.USER, item.user_id), item.released_units)
    if isinstance(item, ledger.HoldRelease):
        return item if user == item.released_units else replace(item, released_units=user)
    key = item.key_held_units
    if item.key_id is not None:
        key = _take(held, (item.owner, hold_owners.KEY, item.key_id), item.key_held_units)
    if (user, key) == (item.released_units, item.key_held_units):
        return item
    return replace(item, released_units=user, key_held_units=key)


def _take(held: dict[_Subject, int], subject: _Subject, wanted: int) -> int:
    given = min(wanted, held[subject])
    held[subject] -= given
    return given

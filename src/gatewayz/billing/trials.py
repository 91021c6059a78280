"""The free trial: credits granted once per user ever, removed (as far as unused) at expiry.

Trial credits are spent first: at expiry the gateway removes the trial's credits minus what
calls were charged since the trial started, never more than the balance and never below 0.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, and_, cast, exists, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.billing import ledger
from gatewayz.billing.money import credits_to_units
from gatewayz.billing.plan_settings import TrialSettings
from gatewayz.errors import Conflict, PermissionDenied
from gatewayz.store.tables import ledger as ledger_rows
from gatewayz.store.tables import notifications, trials, users
from gatewayz.store.times import utc

_ENDING = "trial_ending:"


@dataclass(frozen=True, slots=True)
class Trial:
    user_id: int
    credits_units: int
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    removed_units: int | None

    def status(self, now: datetime) -> str:
        """ "active" while it runs, "expired" once its time is up (settled or not)."""
        return "active" if self.ended_at is None and now < self.expires_at else "expired"


def grant_key(user_id: int) -> str:
    return f"trial:{user_id}"


def expiry_key(user_id: int) -> str:
    return f"trial_expired:{user_id}"


def ending_key(user_id: int) -> str:
    return f"{_ENDING}{user_id}"


async def start_trial(
    engine: AsyncEngine, user_id: int, settings: TrialSettings, now: datetime
) -> Trial:
    """Start the user's one trial and grant its credits; 409 if they ever had one."""
    if not settings.enabled:
        raise PermissionDenied("This gateway offers no free trial.")
    units = credits_to_units(settings.credits)
    expires_at = now + timedelta(days=settings.days)
    try:
        async with engine.begin() as conn:
            if await get_trial(conn, user_id) is not None:
                raise _already(user_id)
            if not await offered(conn, user_id):
                raise PermissionDenied(NOT_OFFERED)
            await conn.execute(
                trials.insert().values(
                    user_id=user_id, credits_units=units, started_at=now, expires_at=expires_at
                )
            )
            if units:
                await ledger.apply_change(
                    conn,
                    user_id,
                    units,
                    kind="trial",
                    reason="free trial",
                    idempotency_key=grant_key(user_id),
                )
    except IntegrityError:
        raise _already(user_id) from None
    return Trial(user_id, units, now, expires_at, None, None)


NOT_OFFERED = (
    "This account is offered no free trial: it was created by an administrator without the "
    "'credits:adjust' permission, and a trial adds credits."
)


async def offered(conn: AsyncConnection, user_id: int) -> bool:
    """Whether the user may start the trial at all (see `users.trial_offered`)."""
    return bool(await conn.scalar(select(users.c.trial_offered).where(users.c.id == user_id)))


async def get_trial(conn: AsyncConnection, user_id: int, *, lock: bool = False) -> Trial | None:
    query = select(trials).where(trials.c.user_id == user_id)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return Trial(
        user_id=row.user_id,
        credits_units=int(row.credits_units),
        started_at=utc(row.started_at),
        expires_at=utc(row.expires_at),
        ended_at=None if row.ended_at is None else utc(row.ended_at),
        removed_units=row.removed_units,
    )


async def expire_trial(engine: AsyncEngine, user_id: int, now: datetime) -> int | None:
    """Settle the user's trial if its time is up: remove its unused credits, once.

    Returns the units removed, or None when there was nothing to settle (no trial, still
    running, or settled before).
    """
    async with engine.begin() as conn:
        trial = await get_trial(conn, user_id, lock=True)
        if trial is None or trial.ended_at is not None or trial.expires_at > now:
            return None
        balance = await ledger.balance_units(conn, user_id, lock=True)
        unused = trial.credits_units - await _spent_since_grant(conn, user_id)
        removed = max(0, min(unused, balance))
        if removed:
            await ledger.apply_change(
                conn,
                user_id,
                -removed,
                kind="trial_expired",
                reason="unused free trial credits",
                idempotency_key=expiry_key(user_id),
            )
        await conn.execute(
            update(trials)
            .where(trials.c.user_id == user_id, trials.c.ended_at.is_(None))
            .values(ended_at=now, removed_units=removed)
        )
    return removed


async def expire_due(engine: AsyncEngine, now: datetime) -> list[int]:
    """Settle every trial whose time is up; the users whose trial was settled now."""
    async with engine.connect() as conn:
        due = (
            (
                await conn.execute(
                    select(trials.c.user_id).where(
                        trials.c.ended_at.is_(None), trials.c.expires_at <= now
                    )
                )
            )
            .scalars()
            .all()
        )
    return [user_id for user_id in due if await expire_trial(engine, user_id, now) is not None]


async def ending_soon(
    engine: AsyncEngine, now: datetime, hours: float
) -> list[tuple[int, str, datetime]]:
    """(user id, email, expiry) of running trials ending within `hours` whose users have not
    been told yet."""
    told = exists().where(
        notifications.c.dedupe_key == literal(_ENDING, String) + cast(trials.c.user_id, String)
    )
    query = (
        select(trials.c.user_id, users.c.email, trials.c.expires_at)
        .join(users, users.c.id == trials.c.user_id)
        .where(
            and_(
                trials.c.ended_at.is_(None),
                trials.c.expires_at > now,
                trials.c.expires_at <= now + timedelta(hours=hours),
                ~told,
            )
        )
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(user_id, email, utc(expires_at)) for user_id, email, expires_at in rows]


async def _spent_since_grant(conn: AsyncConnection, user_id: int) -> int:
    """Units charged for calls after the trial's grant row (ledger ids of one user are in
    commit order: every change locks the user's row)."""
    granted = await conn.scalar(
        select(ledger_rows.c.id).where(ledger_rows.c.idempotency_key == grant_key(user_id))
    )
    if granted is None:
        return 0
    charged = await conn.scalar(
        select(func.coalesce(func.sum(ledger_rows.c.amount_units), 0)).where(
            ledger_rows.c.user_id == user_id,
            ledger_rows.c.kind == "usage",
            ledger_rows.c.id > granted,
        )
    )
    return -int(charged or 0)


def _already(user_id: int) -> Conflict:
    return Conflict(f"User {user_id} has already had a free trial; a trial starts once.")

"""Accounts made and recovered from the dashboard: sign-up (open, or with an operator's
invitation), password resets and invitations. Tokens are mailed or shown once and stored
only as keyed hashes; each is used at most once, before it expires."""

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.accounts import audit, passwords
from gatewayz.accounts.enrolment import enrol
from gatewayz.accounts.roles import USER_ROLE
from gatewayz.accounts.users import AccountError, normalise_email
from gatewayz.accounts.web_tokens import new_token, token_hash
from gatewayz.store.tables import password_resets, signup_invites, users
from gatewayz.store.times import utc


class TokenRefused(AccountError):
    """A reset or invitation token that is unknown, used or expired."""


async def sign_up(
    engine: AsyncEngine,
    server_secret: bytes,
    email: str,
    password_hash: str,
    *,
    invite: str | None,
    now: datetime,
    source_ip: str | None,
) -> int:
    """Create a user with a password (and use the invitation, when one is needed) in one
    transaction; 400/409 from `enrol` for a bad or taken email. Returns the user's id."""
    async with engine.begin() as conn:
        invite_id = None
        if invite is not None:
            invite_id = await _take_invite(conn, server_secret, invite, email, now)
        user_id = await enrol(conn, email, USER_ROLE, 0, trial_offered=True)
        await passwords.store(conn, user_id, password_hash)
        if invite_id is not None:
            await conn.execute(
                update(signup_invites)
                .where(signup_invites.c.id == invite_id)
                .values(used_at=now, used_by=user_id)
            )
        details = {"invite_id": invite_id} if invite_id is not None else None
        await audit.record(
            conn,
            audit.AuditEvent(
                "user.signed_up",
                actor_user_id=user_id,
                target_type="user",
                target_id=str(user_id),
                source_ip=source_ip,
                details=details,
            ),
        )
    return user_id


async def _take_invite(
    conn: AsyncConnection, server_secret: bytes, token: str, email: str, now: datetime
) -> int:
    row = (
        await conn.execute(
            select(signup_invites).where(
                signup_invites.c.token_hash == token_hash(server_secret, token)
            )
        )
    ).first()
    if row is None or row.used_at is not None or utc(row.expires_at) <= now:
        raise TokenRefused("This invitation is not valid any more; ask for a new one.")
    if row.email is not None and row.email != normalise_email(email):
        raise TokenRefused("This invitation is for another email address.")
    return int(row.id)


async def invite(
    engine: AsyncEngine,
    server_secret: bytes,
    created_by: int,
    email: str | None,
    lifetime: timedelta,
    now: datetime,
) -> str:
    """A new invitation (for `email` only, when given); returns its token."""
    token = new_token()
    async with engine.begin() as conn:
        await conn.execute(
            signup_invites.insert().values(
                token_hash=token_hash(server_secret, token),
                email=normalise_email(email) if email else None,
                created_by=created_by,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


async def start_reset(
    engine: AsyncEngine, server_secret: bytes, email: str, lifetime: timedelta, now: datetime
) -> tuple[int, str] | None:
    """A reset token for the user with `email` and their id, or None if there is no such
    user (the caller tells the visitor the same either way)."""
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    token = new_token()
    async with engine.begin() as conn:
        user_id = await conn.scalar(select(users.c.id).where(users.c.email == email))
        if user_id is None:
            return None
        await conn.execute(
            password_resets.insert().values(
                user_id=user_id,
                token_hash=token_hash(server_secret, token),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return int(user_id), token


async def reset_user(engine: AsyncEngine, server_secret: bytes, token: str, now: datetime) -> int:
    """The user a reset token is for, while it can be used."""
    async with engine.connect() as conn:
        return await _reset_row(conn, server_secret, token, now)


async def finish_reset(
    engine: AsyncEngine,
    server_secret: bytes,
    token: str,
    password_hash: str,
    now: datetime,
    source_ip: str | None,
) -> int:
    """Set the new password and use up the token (and every other open reset of the user)
    in one transaction; returns the user's id."""
    async with engine.begin() as conn:
        user_id = await _reset_row(conn, server_secret, token, now)
        await passwords.store(conn, user_id, password_hash)
        await conn.execute(
            update(password_resets)
            .where(password_resets.c.user_id == user_id, password_resets.c.used_at.is_(None))
            .values(used_at=now)
        )
        await audit.record(
            conn,
            audit.AuditEvent(
                "auth.password_reset",
                actor_user_id=user_id,
                target_type="user",
                target_id=str(user_id),
                source_ip=source_ip,
            ),
        )
    return user_id


async def _reset_row(conn: AsyncConnection, server_secret: bytes, token: str, now: datetime) -> int:
    row = (
        await conn.execute(
            select(password_resets).where(
                password_resets.c.token_hash == token_hash(server_secret, token)
            )
        )
    ).first()
    if row is None or row.used_at is not None or utc(row.expires_at) <= now:
        raise TokenRefused("This reset link is not valid any more; ask for a new one.")
    return int(row.user_id)


async def change_password(
    engine: AsyncEngine, user_id: int, password_hash: str, source_ip: str | None
) -> None:
    async with engine.begin() as conn:
        await passwords.store(conn, user_id, password_hash)
        await audit.record(
            conn,
            audit.AuditEvent(
                "auth.password_changed",
                actor_user_id=user_id,
                target_type="user",
                target_id=str(user_id),
                source_ip=source_ip,
            ),
        )

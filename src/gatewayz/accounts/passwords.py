"""Users' dashboard passwords: argon2id hashes (argon2-cffi's defaults), hashed and checked
in a worker thread so that the event loop never waits on them."""

import asyncio
from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.accounts.users import AccountError, normalise_email
from gatewayz.store.tables import user_passwords, users

MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work one attempt can cause


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _decoy() -> str:
    """A hash to check unknown emails against, so that they take as long as known ones."""
    return _hasher().hash("not anyone's password")


def check_strength(password: str, min_length: int) -> None:
    """AccountError naming what is wrong with a new password."""
    if len(password) < min_length:
        raise AccountError(f"A password needs at least {min_length} characters.")
    if len(password) > MAX_LENGTH:
        raise AccountError(f"A password has at most {MAX_LENGTH} characters.")
    if password.strip() != password or not password.strip():
        raise AccountError("A password cannot start or end with spaces.")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher().hash, password)


async def _matches(stored: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def store(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    """Set the user's password hash in the caller's transaction."""
    found = await conn.scalar(
        select(user_passwords.c.user_id).where(user_passwords.c.user_id == user_id)
    )
    values = {"password_hash": password_hash, "updated_at": datetime.now(UTC)}
    if found is None:
        await conn.execute(user_passwords.insert().values(user_id=user_id, **values))
    else:
        await conn.execute(
            user_passwords.update().where(user_passwords.c.user_id == user_id).values(**values)
        )


async def has_password(conn: AsyncConnection, user_id: int) -> bool:
    query = select(user_passwords.c.user_id).where(user_passwords.c.user_id == user_id)
    return await conn.scalar(query) is not None


async def check(engine: AsyncEngine, user_id: int, password: str) -> bool:
    """Whether `password` is the user's (False when they have none)."""
    async with engine.connect() as conn:
        stored = await conn.scalar(
            select(user_passwords.c.password_hash).where(user_passwords.c.user_id == user_id)
        )
    if stored is None or len(password) > MAX_LENGTH:
        await _matches(_decoy(), password[:MAX_LENGTH])
        return False
    return await _matches(stored, password)


async def sign_in(engine: AsyncEngine, email: str, password: str) -> tuple[int | None, str]:
    """The id of the user whose email and password these are, or None and why not
    ("unknown email", "no password" or "wrong password"; for the audit log, never shown).
    Every refusal takes about as long as a success."""
    try:
        email = normalise_email(email)
    except AccountError:
        email = ""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(users.c.id, user_passwords.c.password_hash)
                .select_from(users.outerjoin(user_passwords))
                .where(users.c.email == email)
            )
        ).first()
    if row is None or row.password_hash is None:
        await _matches(_decoy(), password[:MAX_LENGTH])
        return None, "unknown email" if row is None else "no password"
    if len(password) > MAX_LENGTH or not await _matches(row.password_hash, password):
        return None, "wrong password"
    return row.id, "ok"

"""Users and their API keys in the store."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.keys import display_prefix, generate_key, hash_key
from gatewayz.accounts.roles import USER_ROLE
from gatewayz.store.tables import api_keys, users

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    """A request about users or keys that cannot be carried out; the message says why."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    role: str
    balance_units: int
    reserved_units: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key after its creation."""

    id: int
    name: str
    display_prefix: str
    created_at: datetime
    revoked_at: datetime | None


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not a valid email address")
    return email


async def create_user(engine: AsyncEngine, email: str, *, role: str = USER_ROLE) -> User:
    email = normalise_email(email)
    try:
        async with engine.begin() as conn:
            user_id = await conn.scalar(
                users.insert()
                .values(email=email, role=role, balance_units=0, reserved_units=0)
                .returning(users.c.id)
            )
    except IntegrityError as exc:
        raise AccountError(f"a user with email {email} already exists") from exc
    return User(user_id, email, role, 0, 0)


async def get_user(
    engine: AsyncEngine, *, email: str | None = None, user_id: int | None = None
) -> User:
    query = select(
        users.c.id, users.c.email, users.c.role, users.c.balance_units, users.c.reserved_units
    )
    if email is not None:
        query = query.where(users.c.email == normalise_email(email))
    else:
        query = query.where(users.c.id == user_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise AccountError(f"no user {email if email is not None else user_id}")
    return User(*row)


async def count_users(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(users)) or 0)


async def create_key(engine: AsyncEngine, server_secret: bytes, user_id: int, name: str) -> str:
    """Create a key and return it; this is the only time the plaintext exists."""
    key = generate_key()
    async with engine.begin() as conn:
        await conn.execute(
            api_keys.insert().values(
                user_id=user_id,
                name=name,
                display_prefix=display_prefix(key),
                key_hash=hash_key(server_secret, key),
            )
        )
    return key


async def revoke_key(engine: AsyncEngine, user_id: int, key_id: int) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                api_keys.c.user_id == user_id,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=datetime.now(UTC))
        )
    if result.rowcount != 1:
        raise AccountError(f"no active key {key_id} for this user")


async def list_keys(engine: AsyncEngine, user_id: int) -> list[KeyInfo]:
    query = (
        select(
            api_keys.c.id,
            api_keys.c.name,
            api_keys.c.display_prefix,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        )
        .where(api_keys.c.user_id == user_id)
        .order_by(api_keys.c.id)
    )
    async with engine.connect() as conn:
        return [KeyInfo(*row) for row in (await conn.execute(query)).all()]

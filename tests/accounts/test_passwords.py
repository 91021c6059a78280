"""Dashboard passwords: argon2 hashes in the store, and why a sign-in is refused."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import passwords
from gatewayz.accounts.enrolment import enrol
from gatewayz.accounts.users import AccountError
from gatewayz.store.tables import user_passwords


async def test_sign_in_checks_the_stored_argon2_hash(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        user_id = await enrol(conn, "Pat@Example.com", "user", 0, trial_offered=True)
        no_password = await enrol(conn, "keys-only@example.com", "user", 0, trial_offered=True)
        await passwords.store(conn, user_id, await passwords.hash_password("long enough pw"))
    async with engine.connect() as conn:
        stored = await conn.scalar(select(user_passwords.c.password_hash))
    assert stored.startswith("$argon2id$") and "long enough pw" not in stored
    assert await passwords.sign_in(engine, " pat@example.COM ", "long enough pw") == (user_id, "ok")
    assert await passwords.sign_in(engine, "pat@example.com", "wrong") == (None, "wrong password")
    assert await passwords.sign_in(engine, "nobody@example.com", "x") == (None, "unknown email")
    assert await passwords.sign_in(engine, "keys-only@example.com", "x") == (None, "no password")
    assert not await passwords.check(engine, no_password, "anything")


@pytest.mark.parametrize("bad", ["short", " padded password ", "x" * 1025])
def test_weak_passwords_are_refused_with_the_reason(bad: str) -> None:
    with pytest.raises(AccountError):
        passwords.check_strength(bad, 10)

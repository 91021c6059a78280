"""The authenticator: API key -> principal, cached for a while, revocable."""

import asyncio

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import key_store
from gatewayz.accounts import users as accounts
from gatewayz.accounts.auth import Authenticator, Principal
from gatewayz.accounts.key_store import Actor
from gatewayz.accounts.roles import BUILTIN_ROLES
from gatewayz.errors import AuthenticationFailed

SECRET = b"server-secret"


async def _user_with_key(engine: AsyncEngine, admin: bool = False) -> tuple[int, str]:
    user = await accounts.create_user(
        engine, "caller@example.com", role="admin" if admin else "user"
    )
    return user.id, await accounts.create_key(engine, SECRET, user.id, "k")


async def test_a_valid_key_identifies_its_user(engine: AsyncEngine) -> None:
    user_id, key = await _user_with_key(engine, admin=True)
    [info] = await accounts.list_keys(engine, user_id)
    principal = await Authenticator(engine, SECRET, 10).authenticate(key)
    assert principal == Principal(
        user_id, info.id, "caller@example.com", "admin", BUILTIN_ROLES["admin"]
    )


@pytest.mark.parametrize("key", [None, ""])
async def test_a_missing_key_is_refused_with_a_hint(engine: AsyncEngine, key: str | None) -> None:
    with pytest.raises(AuthenticationFailed, match="Authorization: Bearer"):
        await Authenticator(engine, SECRET, 10).authenticate(key)


async def test_unknown_keys_and_keys_hashed_with_another_secret_are_refused(
    engine: AsyncEngine,
) -> None:
    _, key = await _user_with_key(engine)
    with pytest.raises(AuthenticationFailed, match="Invalid API key"):
        await Authenticator(engine, SECRET, 10).authenticate(key + "x")
    with pytest.raises(AuthenticationFailed):
        await Authenticator(engine, b"another-secret", 10).authenticate(key)


async def test_revoked_key_works_until_the_cache_expires_then_is_refused(
    engine: AsyncEngine,
) -> None:
    user_id, key = await _user_with_key(engine)
    [info] = await accounts.list_keys(engine, user_id)
    auth = Authenticator(engine, SECRET, cache_seconds=0.3)
    await auth.authenticate(key)

    await accounts.revoke_key(engine, user_id, info.id)
    assert (await auth.authenticate(key)).user_id == user_id, "cached hit, no database lookup"
    with pytest.raises(AuthenticationFailed):
        await Authenticator(engine, SECRET, 0.3).authenticate(key)

    await asyncio.sleep(0.35)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(key)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(key)


async def test_with_no_cache_a_revocation_applies_at_once(engine: AsyncEngine) -> None:
    user_id, key = await _user_with_key(engine)
    auth = Authenticator(engine, SECRET, cache_seconds=0)
    await auth.authenticate(key)
    [info] = await accounts.list_keys(engine, user_id)
    await accounts.revoke_key(engine, user_id, info.id)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(key)


async def test_revoking_twice_or_another_users_key_is_an_error(engine: AsyncEngine) -> None:
    user_id, _ = await _user_with_key(engine)
    other = await accounts.create_user(engine, "other@example.com")
    [info] = await accounts.list_keys(engine, user_id)
    with pytest.raises(accounts.AccountError, match="no active key"):
        await accounts.revoke_key(engine, other.id, info.id)
    await accounts.revoke_key(engine, user_id, info.id)
    with pytest.raises(accounts.AccountError, match="no active key"):
        await accounts.revoke_key(engine, user_id, info.id)


async def test_forget_drops_a_changed_key_from_the_cache_at_once(engine: AsyncEngine) -> None:
    user_id, key = await _user_with_key(engine)
    [info] = await accounts.list_keys(engine, user_id)
    auth = Authenticator(engine, SECRET, cache_seconds=3600)
    await auth.authenticate(key)
    await accounts.revoke_key(engine, user_id, info.id)
    assert (await auth.authenticate(key)).key_id == info.id, "still cached"
    auth.forget(info.id)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(key)


async def test_a_refused_key_is_refused_again_without_a_lookup(engine: AsyncEngine) -> None:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        authenticator = Authenticator(engine, SECRET, 10)
        for _ in range(5):
            with pytest.raises(AuthenticationFailed, match="Invalid API key"):
                await authenticator.authenticate("gw_live_" + "x" * 40)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len([s for s in statements if "api_keys" in s]) == 1


@pytest.mark.parametrize("revoked", [0, 1, 2])
async def test_a_rotated_out_key_acts_as_its_replacement_until_its_grace_ends(
    engine: AsyncEngine, revoked: int
) -> None:
    """After two rotations the first key is the last one, for calls only, until the shortest
    grace on the way; revoking any key on the way (and forgetting it) ends it at once."""
    user_id, key = await _user_with_key(engine)
    [info] = await accounts.list_keys(engine, user_id)
    actor = Actor(user_id, None, None)
    auth = Authenticator(engine, SECRET, cache_seconds=3600)
    _, middle = await key_store.rotate(engine, SECRET, actor, info.id, 600)
    _, last = await key_store.rotate(engine, SECRET, actor, middle.id, 60)

    principal = await auth.authenticate(key)
    assert (principal.key_id, principal.rotated_from) == (last.id, (info.id, middle.id))
    assert principal.policy.rotated and principal.policy.restricted
    ended = (await key_store.get_record(engine, user_id, middle.id)).expires_at
    assert principal.policy.expires_at == ended, "the shortest grace on the way"

    chain = (info.id, middle.id, last.id)
    await key_store.revoke(engine, actor, chain[revoked])
    assert (await auth.authenticate(key)).key_id == last.id, "still cached"
    auth.forget(chain[revoked])
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(key)

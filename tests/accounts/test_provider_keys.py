"""Users' own provider keys in the store and in the in-memory keyring."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import provider_keys
from gatewayz.accounts import users as accounts
from gatewayz.accounts.key_store import Actor
from gatewayz.accounts.provider_keyring import ProviderKeyring
from gatewayz.accounts.provider_keys import ProviderKeyError, checked_key, key_hint
from gatewayz.accounts.secret_box import SecretBox
from gatewayz.store.tables import audit_logs
from gatewayz.store.tables import provider_keys as provider_keys_table

BOX = SecretBox(b"test-server-secret")
KEY = "sk-proj-0123456789abcdefghijklmnopQRST"


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        (KEY, "sk-...QRST"),
        ("sk-ant-api03-abcdefghijklmnop-wxyz", "sk-...wxyz"),
        ("gsk_abcdefghijklmnopqrstuvwxyz1234", "gsk_...1234"),
        ("AIzaSyAbcdefghijklmnopqrstuvwx", "...uvwx"),
    ],
)
def test_the_hint_shows_the_vendor_prefix_and_last_four(key: str, hint: str) -> None:
    assert key_hint(key) == hint


@pytest.mark.parametrize(
    "bad", ["", "short-key", "sk-has a space-0123456789", "sk-ünïcode-0123456789"]
)
def test_keys_of_the_wrong_shape_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ProviderKeyError) as refused:
        checked_key(bad)
    assert refused.value.param == "api_key"
    assert str(refused.value) == (
        "api_key: must be 16 to 1024 visible ASCII characters without spaces."
    )


def test_surrounding_whitespace_is_dropped() -> None:
    assert checked_key(f"  {KEY}\n") == KEY


async def test_a_key_is_stored_encrypted_and_listed_only_by_hint(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "ana@example.com")
    actor = Actor(user.id, None, "10.0.0.1")

    info, created = await provider_keys.put_key(engine, BOX, actor, "openai", KEY)

    assert created
    assert (info.provider, info.hint) == ("openai", "sk-...QRST")
    async with engine.connect() as conn:
        stored = (await conn.execute(select(provider_keys_table))).mappings().one()
        audit = (await conn.execute(select(audit_logs))).mappings().all()
    assert KEY not in str(dict(stored))
    assert BOX.decrypt(stored["ciphertext"]) == KEY
    assert [row["event"] for row in audit] == ["provider_key.created"]
    assert KEY not in str([dict(row) for row in audit])
    assert await provider_keys.list_keys(engine, user.id) == [info]


async def test_putting_again_replaces_the_key(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "ana@example.com")
    actor = Actor(user.id, None, None)
    first, _ = await provider_keys.put_key(engine, BOX, actor, "openai", KEY)
    second, created = await provider_keys.put_key(engine, BOX, actor, "openai", KEY[:-4] + "ZZZZ")

    assert not created
    assert second.hint == "sk-...ZZZZ"
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert await provider_keys.list_keys(engine, user.id) == [second]


async def test_delete_removes_only_the_callers_key(engine: AsyncEngine) -> None:
    ana = await accounts.create_user(engine, "ana@example.com")
    bob = await accounts.create_user(engine, "bob@example.com")
    for user in (ana, bob):
        await provider_keys.put_key(engine, BOX, Actor(user.id, None, None), "groq", KEY)

    assert await provider_keys.delete_key(engine, Actor(ana.id, None, None), "groq")
    assert not await provider_keys.delete_key(engine, Actor(ana.id, None, None), "groq")
    assert await provider_keys.list_keys(engine, ana.id) == []
    assert [info.provider for info in await provider_keys.list_keys(engine, bob.id)] == ["groq"]


async def test_the_keyring_sees_changes_made_elsewhere_on_reload(engine: AsyncEngine) -> None:
    ana = await accounts.create_user(engine, "ana@example.com")
    bob = await accounts.create_user(engine, "bob@example.com")
    keyring = ProviderKeyring(engine, BOX, refresh_seconds=60)
    await keyring.start()
    try:
        assert keyring.keys_of(ana.id) == {}
        await provider_keys.put_key(engine, BOX, Actor(ana.id, None, None), "groq", KEY)
        assert keyring.keys_of(ana.id) == {}  # another process's change: seen on reload
        await keyring.reload()
        assert keyring.keys_of(ana.id) == {"groq": KEY}
        assert keyring.keys_of(bob.id) == {}

        await provider_keys.delete_key(engine, Actor(ana.id, None, None), "groq")
        await keyring.reload()
        assert keyring.keys_of(ana.id) == {}
    finally:
        await keyring.stop()


async def test_the_keyring_applies_local_changes_at_once(engine: AsyncEngine) -> None:
    keyring = ProviderKeyring(engine, BOX, refresh_seconds=60)
    keyring.remember(7, "groq", KEY)
    keyring.remember(7, "openai", "sk-other-0123456789abcdef")
    assert keyring.keys_of(7) == {"groq": KEY, "openai": "sk-other-0123456789abcdef"}
    keyring.forget(7, "groq")
    assert keyring.keys_of(7) == {"openai": "sk-other-0123456789abcdef"}


async def test_a_key_no_secret_opens_is_skipped_not_fatal(engine: AsyncEngine) -> None:
    ana = await accounts.create_user(engine, "ana@example.com")
    await provider_keys.put_key(
        engine, SecretBox(b"a-lost-secret"), Actor(ana.id, None, None), "groq", KEY
    )
    keyring = ProviderKeyring(engine, BOX, refresh_seconds=60)
    await keyring.reload()
    assert keyring.keys_of(ana.id) == {}

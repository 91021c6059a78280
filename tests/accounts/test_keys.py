"""API keys: shown once, stored only as an HMAC of the server secret."""

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.accounts.keys import (
    KEY_PREFIX,
    display_prefix,
    generate_key,
    hash_key,
    loggable_prefix,
)
from gatewayz.store.tables import api_keys

SECRET = b"server-secret"


def test_generated_keys_are_prefixed_and_unique() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith("gw_live_") and len(k) > 40 for k in keys)


def test_test_keys_have_their_own_prefix_and_the_same_display_length() -> None:
    key = generate_key("test")
    assert key.startswith("gw_test_") and len(key) == len(generate_key())
    assert display_prefix(key) == key[:12]


def test_only_a_short_prefix_of_a_real_looking_key_may_be_logged() -> None:
    key = generate_key()
    assert loggable_prefix(key) == key[:12]
    assert loggable_prefix("gw_live_short") is None, "the prefix would reveal most of it"
    assert loggable_prefix("sk-" + "x" * 60) is None, "another kind of secret"


def test_hash_is_hmac_sha256_of_the_server_secret() -> None:
    key = "gw_live_abc"
    assert hash_key(SECRET, key) == hmac.new(SECRET, key.encode(), hashlib.sha256).hexdigest()
    assert hash_key(SECRET, key) != hashlib.sha256(key.encode()).hexdigest()
    assert hash_key(b"other-secret", key) != hash_key(SECRET, key)


def test_display_prefix_shows_four_characters_after_the_prefix() -> None:
    assert display_prefix("gw_live_AbCdEfGhIj") == "gw_live_AbCd"
    assert len(display_prefix(generate_key())) == len(KEY_PREFIX) + 4


async def test_stored_key_is_its_hash_never_its_text(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "Keys@Example.com")
    key = await accounts.create_key(engine, SECRET, user.id, "laptop")
    async with engine.connect() as conn:
        row = (await conn.execute(select(api_keys))).one()._mapping
    assert row["key_hash"] == hash_key(SECRET, key)
    assert row["display_prefix"] == display_prefix(key)
    assert all(key not in str(value) for value in row.values())
    [info] = await accounts.list_keys(engine, user.id)
    assert (info.name, info.display_prefix, info.revoked_at) == ("laptop", key[:12], None)

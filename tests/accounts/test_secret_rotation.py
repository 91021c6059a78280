"""Rotating the server secret: provider keys stored under the old secret still open, the
`gatewayz secrets reencrypt` command moves them to the new one, and API keys keep working."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import provider_keys
from gatewayz.accounts import users as accounts
from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.key_store import Actor
from gatewayz.accounts.keys import hash_key
from gatewayz.accounts.secret_box import SecretBox, UndecryptableSecret
from gatewayz.errors import AuthenticationFailed
from gatewayz.store.tables import api_keys
from gatewayz.store.tables import provider_keys as provider_keys_table

OLD, NEW, UNKNOWN = b"old-server-secret", b"new-server-secret", b"some-other-secret"
KEY = "sk-proj-0123456789abcdefghijklmnop"
SCRIPT = Path(sys.executable).with_name("gatewayz")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gatewayz"]


def test_a_key_encrypts_and_decrypts_without_appearing_in_the_ciphertext() -> None:
    box = SecretBox(OLD)
    token = box.encrypt(KEY)
    assert KEY not in token
    assert box.decrypt(token) == KEY
    assert box.encrypt(KEY) != token  # a fresh IV every time


def test_another_secret_cannot_decrypt() -> None:
    token = SecretBox(OLD).encrypt(KEY)
    with pytest.raises(UndecryptableSecret) as refused:
        SecretBox(NEW).decrypt(token)
    assert KEY not in str(refused.value)


def test_previous_secrets_decrypt_and_rotate_moves_to_the_current_one() -> None:
    token = SecretBox(OLD).encrypt(KEY)
    rotating = SecretBox(NEW, [OLD])
    assert rotating.decrypt(token) == KEY
    rotated = rotating.rotate(token)
    assert SecretBox(NEW).decrypt(rotated) == KEY
    with pytest.raises(UndecryptableSecret):
        SecretBox(OLD).decrypt(rotated)


async def _ciphertexts(engine: AsyncEngine) -> dict[int, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(provider_keys_table.c.user_id, provider_keys_table.c.ciphertext)
        )
        return dict(rows.all())


async def test_reencrypt_all_rewrites_keys_under_the_current_secret(engine: AsyncEngine) -> None:
    ana = await accounts.create_user(engine, "ana@example.com")
    bob = await accounts.create_user(engine, "bob@example.com")
    await provider_keys.put_key(engine, SecretBox(OLD), Actor(ana.id, None, None), "openai", KEY)
    await provider_keys.put_key(
        engine, SecretBox(UNKNOWN), Actor(bob.id, None, None), "openai", KEY
    )

    assert await provider_keys.reencrypt_all(engine, SecretBox(NEW, [OLD])) == (1, 1)

    stored = await _ciphertexts(engine)
    assert SecretBox(NEW).decrypt(stored[ana.id]) == KEY
    with pytest.raises(UndecryptableSecret):
        SecretBox(NEW, [OLD]).decrypt(stored[bob.id])


async def test_reencrypt_command_rotates_stored_keys(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ana = await accounts.create_user(engine, "ana@example.com")
    await provider_keys.put_key(engine, SecretBox(OLD), Actor(ana.id, None, None), "groq", KEY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYZ_")}
    env |= {
        "GATEWAYZ_DATABASE_URL": database_url,
        "GATEWAYZ_SECRET": NEW.decode(),
        "GATEWAYZ_PREVIOUS_SECRETS": f'["{OLD.decode()}"]',
    }

    done = subprocess.run(
        [*COMMAND, "secrets", "reencrypt"], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert "re-encrypted 1 provider keys" in done.stderr
    assert KEY not in done.stdout + done.stderr
    assert SecretBox(NEW).decrypt((await _ciphertexts(engine))[ana.id]) == KEY

    without_old = {**env, "GATEWAYZ_PREVIOUS_SECRETS": ""}
    await provider_keys.put_key(engine, SecretBox(UNKNOWN), Actor(ana.id, None, None), "groq", KEY)
    failed = subprocess.run(
        [*COMMAND, "secrets", "reencrypt"],
        env=without_old,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "1 provider keys open with neither" in failed.stderr


async def test_api_keys_keep_working_after_rotation_and_move_to_the_new_secret(
    engine: AsyncEngine,
) -> None:
    user = await accounts.create_user(engine, "ana@example.com")
    key = await accounts.create_key(engine, OLD, user.id, "before rotation")

    with pytest.raises(AuthenticationFailed):
        await Authenticator(engine, NEW, 10).authenticate(key)
    principal = await Authenticator(engine, NEW, 10, [OLD]).authenticate(key)
    assert principal.user_id == user.id

    async with engine.connect() as conn:
        stored = (await conn.execute(select(api_keys.c.key_hash))).scalar_one()
    assert stored == hash_key(NEW, key)
    assert (await Authenticator(engine, NEW, 10).authenticate(key)).user_id == user.id

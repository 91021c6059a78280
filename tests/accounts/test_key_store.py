"""A user's keys in the store: restrictions, rate limits and audit rows written together."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import key_store
from gatewayz.accounts import users as accounts
from gatewayz.accounts.auth import Authenticator
from gatewayz.limits.settings import LimitValues
from gatewayz.store.tables import audit_logs, rate_limits

SECRET = b"server-secret"


async def _owner(engine: AsyncEngine, email: str = "owner@example.com") -> key_store.Actor:
    user = await accounts.create_user(engine, email)
    return key_store.Actor(user.id, None, "192.0.2.1")


async def _events(engine: AsyncEngine) -> list[tuple[str, str | None, dict[str, object] | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_logs.c.event, audit_logs.c.target_id, audit_logs.c.details).order_by(
                audit_logs.c.id
            )
        )
        return [(e, t, orjson.loads(d) if d else None) for e, t, d in rows]


async def test_create_stores_restrictions_limits_and_an_audit_row(engine: AsyncEngine) -> None:
    actor = await _owner(engine)
    key, record = await key_store.create(
        engine,
        SECRET,
        actor,
        name="ci",
        environment="test",
        restrictions={"scopes": '["chat"]', "spend_limit_units": 5_000_000_000},
        limits={"rpm": 10},
        max_keys=5,
    )
    assert key.startswith("gw_test_") and record.display_prefix == key[:12]
    assert (record.name, record.environment, record.scopes) == ("ci", "test", ["chat"])
    assert record.spend_limit_units == 5_000_000_000
    assert record.rate_limits == LimitValues(rpm=10)
    assert record.status(datetime.now(UTC)) == "active"
    assert await _events(engine) == [("key.created", str(record.id), {"name": "ci"})]
    principal = await Authenticator(engine, SECRET, 10).authenticate(key)
    assert principal.policy.scopes == frozenset({"chat"})


async def test_keys_beyond_the_maximum_are_refused(engine: AsyncEngine) -> None:
    actor = await _owner(engine)
    for _ in range(2):
        await key_store.create(
            engine, SECRET, actor, name="k", environment="live", restrictions={}, limits=None,
            max_keys=2,
        )  # fmt: skip
    with pytest.raises(key_store.KeyStateError, match="already has 2 keys"):
        await key_store.create(
            engine, SECRET, actor, name="k", environment="live", restrictions={}, limits=None,
            max_keys=2,
        )  # fmt: skip


async def test_another_users_key_is_not_found(engine: AsyncEngine) -> None:
    owner = await _owner(engine)
    other = await _owner(engine, "other@example.com")
    _, record = await key_store.create(
        engine, SECRET, owner, name="k", environment="live", restrictions={}, limits=None,
        max_keys=9,
    )  # fmt: skip
    with pytest.raises(key_store.KeyNotFound):
        await key_store.get_record(engine, other.user_id, record.id)
    with pytest.raises(key_store.KeyNotFound):
        await key_store.update_key(engine, other, record.id, {"name": "mine"}, None)
    with pytest.raises(key_store.KeyNotFound):
        await key_store.revoke(engine, other, record.id)
    with pytest.raises(key_store.KeyNotFound):
        await key_store.rotate(engine, SECRET, other, record.id, 60)
    assert (await key_store.get_record(engine, owner.user_id, record.id)).name == "k"


async def test_rotation_copies_everything_and_ends_the_old_key_after_the_grace(
    engine: AsyncEngine,
) -> None:
    actor = await _owner(engine)
    old_key, old = await key_store.create(
        engine,
        SECRET,
        actor,
        name="prod",
        environment="live",
        restrictions={"ip_allowlist": '["10.0.0.0/8"]', "referrers": '["example.com"]'},
        limits={"rpm": 5, "concurrency": 2},
        max_keys=9,
    )
    before = datetime.now(UTC)
    new_key, new = await key_store.rotate(engine, SECRET, actor, old.id, 3600)
    assert new_key != old_key and new.id != old.id
    assert (new.name, new.ip_allowlist, new.referrers) == ("prod", ["10.0.0.0/8"], ["example.com"])
    assert new.rate_limits == LimitValues(rpm=5, concurrency=2)
    rotated = await key_store.get_record(engine, actor.user_id, old.id)
    assert rotated.replaced_by == new.id and rotated.expires_at is not None
    assert before + timedelta(seconds=3599) < rotated.expires_at < before + timedelta(seconds=3660)
    assert rotated.status(datetime.now(UTC)) == "rotating"
    assert rotated.status(rotated.expires_at) == "expired"
    with pytest.raises(key_store.KeyStateError, match="is rotating; it cannot be rotated"):
        await key_store.rotate(engine, SECRET, actor, old.id, 60)
    assert (await _events(engine))[-1] == (
        "key.rotated",
        str(old.id),
        {"new_key_id": new.id, "grace_seconds": 3600},
    )
    async with engine.connect() as conn:
        limited = (await conn.execute(select(rate_limits.c.key_id))).scalars().all()
    assert sorted(limited) == [old.id, new.id]


async def test_revoking_is_audited_once_and_cannot_be_undone_by_an_update(
    engine: AsyncEngine,
) -> None:
    actor = await _owner(engine)
    _, record = await key_store.create(
        engine, SECRET, actor, name="k", environment="live", restrictions={}, limits=None,
        max_keys=9,
    )  # fmt: skip
    first = await key_store.revoke(engine, actor, record.id)
    again = await key_store.revoke(engine, actor, record.id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at
    assert first.status(datetime.now(UTC)) == "revoked"
    with pytest.raises(key_store.KeyStateError, match="is revoked"):
        await key_store.update_key(engine, actor, record.id, {"expires_at": None}, None)
    assert [event for event, _, _ in await _events(engine)] == ["key.created", "key.revoked"]

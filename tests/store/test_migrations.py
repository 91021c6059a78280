"""Migrations build exactly the schema the code declares, and upgrades keep existing data."""

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gatewayz.store.engine import create_engine
from gatewayz.store.migrate import alembic_config
from gatewayz.store.tables import metadata
from tests.conftest import POSTGRES_URL, _reset_postgres, require_service

_OLD_ROWS = (
    "INSERT INTO users (id, email, is_admin, balance_units, reserved_units)"
    " VALUES (1, 'ops@example.com', :yes, 5, 0), (2, 'dev@example.com', :no, 7, 0)",
    "INSERT INTO api_keys (user_id, name, display_prefix, key_hash)"
    " VALUES (2, 'ci', 'gw_live_abcd', 'hash')",
    "INSERT INTO ledger (user_id, amount_units, balance_after_units, kind, idempotency_key)"
    " VALUES (2, 7, 7, 'grant', 'g2')",
)


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


async def test_migrated_schema_matches_the_declared_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    require_service("PostgreSQL", "127.0.0.1", 5432)
    await _reset_postgres()
    return POSTGRES_URL


async def test_upgrading_keeps_users_keys_and_ledger(empty_database: str) -> None:
    config = alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0003")
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as conn:
            for statement in _OLD_ROWS:
                await conn.execute(text(statement), {"yes": True, "no": False})
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            users = (await conn.execute(text("SELECT email, role FROM users ORDER BY id"))).all()
            keys = (await conn.execute(text("SELECT name, environment FROM api_keys"))).all()
            ledger = await conn.scalar(text("SELECT count(*) FROM ledger"))
    finally:
        await engine.dispose()
    assert [tuple(row) for row in users] == [
        ("ops@example.com", "admin"),
        ("dev@example.com", "user"),
    ]
    assert [tuple(row) for row in keys] == [("ci", "live")]
    assert ledger == 1


_PAID_BEFORE_DISPUTES = (
    "INSERT INTO users (id, email, role, balance_units, reserved_units, referred_by)"
    " VALUES (1, 'alice@example.com', 'user', 5, 0, NULL), (2, 'bob@example.com', 'user', 5, 0, 1)",
    "INSERT INTO ledger (user_id, amount_units, balance_after_units, kind, idempotency_key)"
    " VALUES (1, 5, 5, 'referral_reward', 'referral:2'), (2, 10, 10, 'purchase', 'payment:1'),"
    " (2, -5, 5, 'refund', 'refund:ch_1:500')",
    "INSERT INTO payments (id, user_id, checkout_session_id, payment_intent_id, amount_cents,"
    " currency, credits_units, status, refunded_cents, reversed_units, unreversed_units)"
    " VALUES (1, 2, 'cs_1', 'pi_1', 1000, 'usd', 10, 'partially_refunded', 500, 4, 1),"
    " (2, 2, 'cs_2', 'pi_2', 1000, 'usd', 10, 'paid', 0, 0, 0)",
)


async def test_upgrading_keeps_what_refunds_took_and_ties_referral_rewards_to_a_payment(
    empty_database: str,
) -> None:
    config = alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0005")
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as conn:
            for statement in _PAID_BEFORE_DISPUTES:
                await conn.execute(text(statement))
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            intents = (
                await conn.execute(text("SELECT id, refunded_cents FROM payment_intents"))
            ).all()
            claims = (
                await conn.execute(
                    text(
                        "SELECT payment_id, source, cents, buyer_taken_units,"
                        " buyer_unrecovered_units FROM payment_claims"
                    )
                )
            ).all()
            rewards = (
                await conn.execute(
                    text("SELECT id, referrer_id, referral_units FROM payments ORDER BY id")
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in intents] == [("pi_1", 500)]
    assert [tuple(row) for row in claims] == [(1, "refund", 500, 4, 1)]
    assert [tuple(row) for row in rewards] == [(1, 1, 5), (2, None, 0)]


async def test_0006_lets_a_shortfall_take_a_balance_below_zero_and_back(
    empty_database: str,
) -> None:
    config = alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0005")
    engine = create_engine(empty_database)
    negative = text("UPDATE users SET balance_units = -5 WHERE id = 2")
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, email, balance_units, reserved_units)"
                    " VALUES (2, 'dev@example.com', 7, 0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO ledger (user_id, amount_units, balance_after_units, kind,"
                    " idempotency_key) VALUES (2, 7, 7, 'grant', 'g2')"
                )
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(negative)
        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "0006")
        async with engine.begin() as conn:
            assert await conn.scalar(text("SELECT shortfall_units FROM ledger")) == 0
            await conn.execute(negative)
        await engine.dispose()
        with pytest.raises(RuntimeError, match="below zero"):
            await asyncio.to_thread(command.downgrade, config, "0005")
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE users SET balance_units = 0 WHERE id = 2"))
        await engine.dispose()
        await asyncio.to_thread(command.downgrade, config, "0005")
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(negative)
    finally:
        await engine.dispose()

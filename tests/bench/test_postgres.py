"""Seeding fills the migrated history tables with rows the real schema accepts."""

import asyncio

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from gatewayz.store.migrate import upgrade_sync
from postgres import connect_args, drop_database, fresh_database_url, seed
from tests.conftest import require_service

pytestmark = pytest.mark.postgres
SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def _fetch(database_url: str, *queries: str) -> list[object]:
    connection = await asyncpg.connect(**connect_args(make_url(database_url)))
    try:
        return [await connection.fetchval(query) for query in queries]
    finally:
        await connection.close()


def test_a_fresh_database_takes_the_seed_and_is_dropped_afterwards() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    database_url = fresh_database_url(SERVER_URL)
    try:
        upgrade_sync(database_url)
        seed(database_url, 2_500)
        counts = asyncio.run(
            _fetch(
                database_url,
                "SELECT count(*) FROM request_logs",
                "SELECT count(*) FROM ledger",
                "SELECT count(DISTINCT idempotency_key) FROM ledger",
                "SELECT count(*) FROM ledger JOIN users ON users.id = ledger.user_id",
                "SELECT count(*) FROM request_logs WHERE status_code = 502",
            )
        )
        assert counts == [2_500, 2_500, 2_500, 2_500, 25]
    finally:
        drop_database(database_url)
    name = make_url(database_url).database
    remaining = asyncio.run(
        _fetch(
            SERVER_URL,
            f"SELECT count(*) FROM pg_database WHERE datname = '{name}'",
        )
    )
    assert remaining == [0]

"""PostgreSQL for the benchmark: a fresh database per run, and seeding its history tables.

The seed fills ``request_logs`` and ``ledger`` (the tables the migrations made, with all their
indexes) with rows shaped like real traffic: 10,000 users, a mix of models, streamed and not,
1 % errors, time-ordered over the last 90 days, usage debits keyed ``call:<request id>``.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from sqlalchemy.engine import URL, make_url

SEED_USERS = 10_000
BATCH_ROWS = 1_000_000

SEED_USERS_SQL = """
WITH seeded AS (
INSERT INTO users (email, role, balance_units, reserved_units, created_at, trial_offered)
SELECT 'seed-' || g || '@example.com', 'user', 1000000000000, 0,
       now() - interval '400 days' + g * interval '1 minute', false
FROM generate_series(1, $1::int) AS g
RETURNING id)
SELECT min(id) FROM seeded
"""

# $1 first row, $2 last row, $3 all rows (the time span), $4 the first seed user's id.
REQUEST_LOGS_SQL = """
INSERT INTO request_logs (
    request_id, user_id, key_id, api, model, provider, provider_model, stream, status_code,
    error, input_tokens, output_tokens, usage_estimated, cost_units, latency_ms, ttft_ms,
    created_at, dropped, cache_read_tokens, cache_write_tokens)
SELECT 'seed-' || lpad(g::text, 10, '0'), $4::int + g % 10000, $4::int + g % 10000,
       (ARRAY['chat', 'chat', 'chat', 'messages', 'responses', 'embeddings'])[1 + g % 6],
       (ARRAY['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4', 'google/gemini-2.5-flash',
              'deepseek/deepseek-chat'])[1 + g % 4],
       (ARRAY['openai', 'anthropic', 'google', 'deepseek'])[1 + g % 4],
       (ARRAY['gpt-4o-mini', 'claude-sonnet-4', 'gemini-2.5-flash', 'deepseek-chat'])[1 + g % 4],
       g % 3 = 0,
       CASE WHEN g % 100 = 0 THEN 502 ELSE 200 END,
       CASE WHEN g % 100 = 0 THEN 'upstream error: bad gateway' END,
       50 + g % 4000, 10 + g % 900, false, 1000 + g % 250000, 200 + g % 3000,
       CASE WHEN g % 3 = 0 THEN 100 + g % 900 END,
       now() - interval '90 days' * (1 - g::float8 / $3::int),
       NULL, (g % 7) * 64, 0
FROM generate_series($1::int, $2::int) AS g
"""

LEDGER_SQL = """
INSERT INTO ledger (
    user_id, amount_units, balance_after_units, kind, reason, idempotency_key, request_id,
    shortfall_units, created_at)
SELECT $4::int + g % 10000, -(1000 + g % 250000), 1000000000000 - g, 'usage', NULL,
       'call:seed-' || lpad(g::text, 10, '0'), 'seed-' || lpad(g::text, 10, '0'), 0,
       now() - interval '90 days' * (1 - g::float8 / $3::int)
FROM generate_series($1::int, $2::int) AS g
"""


def connect_args(url: URL, database: str | None = None) -> dict[str, object]:
    """asyncpg.connect arguments for ``url`` (or another database on its server)."""
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username,
        "password": url.password,
        "database": database or url.database,
    }


def fresh_database_url(server_url: str) -> str:
    """Create an empty database beside the one ``server_url`` names, and return its URL."""
    url = make_url(server_url)
    name = f"gatewayz_bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        connection = await asyncpg.connect(**connect_args(url))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    """Drop a database made by ``fresh_database_url``, closing its connections."""
    url = make_url(database_url)

    async def drop() -> None:
        connection = await asyncpg.connect(**connect_args(url, "postgres"))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


async def _fill(url: URL, table: str, sql: str, rows: int, first_user: int) -> None:
    """Insert ``rows`` rows with ``sql`` in batches, then vacuum and analyze the table."""
    connection = await asyncpg.connect(**connect_args(url))
    try:
        for start in range(1, rows + 1, BATCH_ROWS):
            end = min(rows, start + BATCH_ROWS - 1)
            await connection.execute(sql, start, end, rows, first_user)
        await connection.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await connection.close()


def seed(database_url: str, rows: int) -> float:
    """Seed ``rows`` request-log and ledger rows (both tables at once); return the seconds taken."""
    url = make_url(database_url)

    async def run() -> None:
        connection = await asyncpg.connect(**connect_args(url))
        try:
            first_user = await connection.fetchval(SEED_USERS_SQL, SEED_USERS)
        finally:
            await connection.close()
        await asyncio.gather(
            _fill(url, "request_logs", REQUEST_LOGS_SQL, rows, first_user),
            _fill(url, "ledger", LEDGER_SQL, rows, first_user),
        )

    started = time.monotonic()
    asyncio.run(run())
    return time.monotonic() - started

"""The money invariants under a seeded mix of everything that moves credits, across two real
`gatewayz serve` processes on one database (SQLite, PostgreSQL; Redis for the even seeds).

A run (money_run.py) interleaves, partly at once: unary and streamed calls, streams the
client cuts at a random event, calls it abandons once they are upstream or at a random
moment, calls that fail over between providers, calls to a model that bills past its limits,
admin grants and removals through either process, removals from the ledger directly, Stripe
purchases and refunds through the signed webhook, from several users and keys (one with a
spending limit). Once every call is in the request log the gateways are stopped, so every
lease is given back, and the books are checked (money_books.py): for every user the balance
is the start plus every ledger row, row by row; nothing is held by users, keys or processes;
every call that reached a gateway has one request-log row and is charged exactly its cost
(or, cut, what the gateway can have seen); every charge past the call's documented worst
case, or below zero, is the recorded and logged shortfall, to the unit; keys spend what their
calls cost and no more than their limit allows; refunds took back their share.

`MONEY_SEEDS=7,8` (or `MONEY_SEEDS=1-50`) runs those seeds on both databases instead of the
fixed ones; `MONEY_STEPS` changes the number of groups of operations per run.
"""

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.store.engine import create_engine
from gatewayz.store.tables import request_logs
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    SECRET,
    _empty_postgres,
    add_funded_user,
    require_service,
)
from tests.e2e.money_books import Books, Checker, read_books, read_log_lines
from tests.e2e.money_run import SECONDS, Run
from tests.e2e.money_world import STRIPE_KEY, UNITS_PER_CREDIT, Key, Record, gateway_config
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.stripe_api import FakeStripeAPI
from tests.limits.test_processes import gateways

FIXED_SEEDS = {"sqlite": (1, 2, 3), "postgres": (4, 5, 6)}
STEPS = int(os.environ.get("MONEY_STEPS", "18"))
# Credits each user starts with: from less than one call without max_tokens may hold, to
# enough for everything.
FUNDS = ("0.002", "0.02", "0.2", "1")
LIMIT = "0.002"  # the spending limit of the third user's second key


def _seeds() -> list[tuple[str, int]]:
    given = os.environ.get("MONEY_SEEDS", "").strip()
    if not given:
        return [(database, seed) for database, seeds in FIXED_SEEDS.items() for seed in seeds]
    seeds: list[int] = []
    for part in given.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return [(database, seed) for database in FIXED_SEEDS for seed in seeds]


async def _database(database: str, tmp_path: Path, sqlite_template: Path) -> str:
    if database == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "gatewayz.db")
        return f"sqlite+aiosqlite:///{tmp_path / 'gatewayz.db'}"
    require_service("PostgreSQL", "127.0.0.1", 5432)
    await _empty_postgres()
    return POSTGRES_URL


async def _users(engine: AsyncEngine, record: Record) -> tuple[list[Key], str]:
    """The run's users, each with a key (their first), a second key for the last one; and an
    administrator's key. The limited key is made through a gateway once it runs."""
    for n, credits in enumerate(FUNDS):
        email = f"money-{record.seed}-{n}-{uuid.uuid4().hex[:6]}@example.com"
        user_id, secret = await add_funded_user(engine, email, credits)
        (info,) = await accounts.list_keys(engine, user_id)
        record.grants[user_id] = (await accounts.get_user(engine, user_id=user_id)).balance_units
        record.keys.append(Key(user_id, info.id, secret))
    last = record.keys[-1].user_id
    second = await accounts.create_key(engine, SECRET.encode(), last, "second")
    infos = await accounts.list_keys(engine, last)
    record.keys.append(Key(last, max(info.id for info in infos), second))
    admin = await accounts.create_user(
        engine, f"ops-{uuid.uuid4().hex[:8]}@example.com", role="admin"
    )
    return list(record.keys), await accounts.create_key(engine, SECRET.encode(), admin.id, "ops")


async def _limited_key(http: httpx.AsyncClient, record: Record) -> Key:
    owner = record.keys[2]
    made = await http.post(
        "/user/api-keys", json={"name": "limited", "spend_limit": LIMIT}, headers=owner.headers
    )
    assert made.status_code == 201, made.text
    limit = int(Decimal(LIMIT) * UNITS_PER_CREDIT)
    key = Key(owner.user_id, made.json()["id"], made.json()["key"], limit)
    record.keys.append(key)
    return key


async def _logged(engine: AsyncEngine, user_ids: list[int]) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count())
            .select_from(request_logs)
            .where(request_logs.c.user_id.in_(user_ids))
        )
    return int(found or 0)


async def _until_logged(engine: AsyncEngine, record: Record, run: Run) -> None:
    """Wait until every call known to have reached a gateway is in the request log (the
    settlement is written in the same transaction)."""
    user_ids = sorted(record.grants)
    deadline = time.monotonic() + SECONDS
    while True:
        for call in record.calls:
            call.reached_upstream = run.saw(call.marker)
        must = sum(
            1
            for call in record.calls
            if call.status not in (402, 403) and (call.status is not None or call.reached_upstream)
        )
        if await _logged(engine, user_ids) >= must or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _clients(urls: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=SECONDS, limits=limits)
            )
            for url in urls
        ]


async def _play(tmp_path: Path, url: str, engine: AsyncEngine, seed: int, record: Record) -> Books:
    callers, admin = await _users(engine, record)
    redis_url = None
    if seed % 2 == 0:
        require_service("Redis", "127.0.0.1", 6379)
        redis_url = REDIS_URL
    async with FakeOpenAIUpstream() as upstream, FakeStripeAPI(STRIPE_KEY) as stripe:
        extra = gateway_config(upstream, stripe)
        async with (
            gateways(tmp_path, url, upstream, redis_url, {}, extra=extra) as urls,
            _clients(urls) as http,
        ):
            callers.append(await _limited_key(http[0], record))
            run = Run(record, http, engine, upstream, stripe, admin, callers)
            await run.play(STEPS)
            await _until_logged(engine, record, run)
        # The gateways have stopped: every lease is given back, every row written, and what
        # reached the upstream meanwhile (a call whose client had left) is known.
        for call in record.calls:
            call.reached_upstream = run.saw(call.marker)
    return await read_books(engine, sorted(record.grants))


@pytest.mark.parametrize(("database", "seed"), _seeds(), ids=[f"{d}-seed{s}" for d, s in _seeds()])
async def test_the_books_balance_after_a_seeded_run_across_two_processes(
    database: str, seed: int, tmp_path: Path, sqlite_template: Path
) -> None:
    url = await _database(database, tmp_path, sqlite_template)
    engine = create_engine(url)
    record = Record(seed)
    rerun = f"seed {seed} on {database} (rerun: MONEY_SEEDS={seed}; operations in {tmp_path})"
    try:
        books = await _play(tmp_path, url, engine, seed, record)
    except Exception as exc:
        raise AssertionError(f"{rerun}: {exc!r}") from exc
    finally:
        await engine.dispose()
        (tmp_path / "operations.txt").write_text(
            "\n".join([record.outcomes(), *record.trace, *map(str, record.calls)])
        )
    logs = read_log_lines(sorted(tmp_path.glob("gateway*.log")))
    problems = Checker(books, record, logs).check()
    if problems:
        (tmp_path / "books.json").write_bytes(
            orjson.dumps(books, default=str, option=orjson.OPT_NON_STR_KEYS)
        )
    assert not problems, f"{rerun}:\n" + "\n".join(problems[:40])

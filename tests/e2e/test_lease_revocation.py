"""Every balance decrease reaches the credit leases of every gateway process.

A user's calls warm a lease in one gateway process; their credits are then removed through
another process's admin API, through `gatewayz credits remove`, or by `ledger.change_credits`
from a process that serves nothing. Calls through the first process must be refused (the
balance no longer covers one call's worst case) within the documented bound, and every call
admitted meanwhile must be charged in full. Two real `gatewayz serve` processes share one
database (SQLite, PostgreSQL), with and without Redis.
"""

import asyncio
import functools
import math
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger
from gatewayz.billing.hold_owners import HoldSettings
from gatewayz.store.tables import ledger as ledger_rows
from gatewayz.store.tables import process_holds, users
from tests.conftest import (
    REDIS_URL,
    SECRET,
    add_funded_user,
    gateway_settings,
    require_service,
    serve,
)
from tests.e2e.conftest import e2e_settings
from tests.e2e.support import HI, HI_COST
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.limits.test_processes import COMMAND, chat, gateways

DEFAULTS = HoldSettings()
# The test's own HTTP round trips on a loaded machine, on top of the documented bound.
SLACK_SECONDS = 1.0
FUNDS = "1"
# Leaves about 0.03 credits: less than one call's worst case (4096 output tokens at 8
# credits per million), enough for over 600 calls at their real cost (HI_COST).
REMOVED = "0.97"
REMOVED_UNITS = 970_000_000
# Between two calls of one user: at most 50 calls a second, so the user's calls while the
# command line starts (about two seconds) spend well under 0.01 credits.
PAUSE_SECONDS = 0.02


async def _admin_key(engine: AsyncEngine) -> str:
    admin = await accounts.create_user(
        engine, f"ops-{uuid.uuid4().hex[:8]}@example.com", role="admin"
    )
    return await accounts.create_key(engine, SECRET.encode(), admin.id, "ops")


async def _api_debit(http: httpx.AsyncClient, url: str, admin_key: str, user_id: int) -> None:
    response = await http.post(
        f"{url}/admin/users/{user_id}/credits",
        json={"amount": f"-{REMOVED}", "reason": "chargeback"},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 200, response.text


def _cli_debit(tmp_path: Path, email: str) -> None:
    config = str(tmp_path / "gatewayz.yaml")
    done = subprocess.run(
        [*COMMAND, "credits", "remove", email, REMOVED, "--config", config],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


async def _ledger_debit(engine: AsyncEngine, user_id: int) -> None:
    await ledger.change_credits(
        engine,
        user_id,
        -REMOVED_UNITS,
        kind="admin_adjustment",
        reason="chargeback",
        idempotency_key=f"test:{uuid.uuid4()}",
    )


async def _until_refused(
    http: httpx.AsyncClient, url: str, key: str, debit: Callable[[], Awaitable[None]]
) -> tuple[float, list[int], list[int]]:
    """Keep calling `url` while `debit` runs: seconds from the debit's return to the end of
    the first refused call (negative if before), and the statuses of the calls that ended
    before the debit started and after."""
    assert await chat(http, url, key) == 200  # the call leases credits in this process
    calls: list[tuple[float, int]] = []
    calling = True

    async def keep_calling() -> None:
        while calling:
            status = await chat(http, url, key)
            calls.append((time.monotonic(), status))
            await asyncio.sleep(PAUSE_SECONDS)

    caller = asyncio.create_task(keep_calling())
    try:
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await debit()
        done = time.monotonic()
        deadline = done + 15
        while time.monotonic() < deadline and not any(
            at > started and status == 402 for at, status in calls
        ):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # the calls after the first refusal
    finally:
        calling = False
        await caller
    refused = next((at for at, status in calls if at > started and status == 402), math.inf)
    before = [status for at, status in calls if at <= started]
    after = [status for at, status in calls if at > started]
    return refused - done, before, after


async def _books(engine: AsyncEngine, user_id: int) -> tuple[int, int, int, list[int]]:
    """(balance, held, ledger sum, usage charges) of the user."""
    async with engine.connect() as conn:
        balance, held = (
            await conn.execute(
                select(users.c.balance_units, users.c.reserved_units).where(users.c.id == user_id)
            )
        ).one()
        total = await conn.scalar(
            select(func.sum(ledger_rows.c.amount_units)).where(ledger_rows.c.user_id == user_id)
        )
        charges = (
            await conn.scalars(
                select(ledger_rows.c.amount_units).where(
                    ledger_rows.c.user_id == user_id, ledger_rows.c.kind == "usage"
                )
            )
        ).all()
    return balance, held, int(total), list(charges)


@pytest.mark.parametrize("with_redis", [False, True], ids=["database", "redis"])
async def test_a_debit_reaches_the_lease_of_another_process_within_the_bound(
    with_redis: bool,
    tmp_path: Path,
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
) -> None:
    if with_redis:
        require_service("Redis", "127.0.0.1", 6379)
    interval = (
        DEFAULTS.revocation_backstop_seconds if with_redis else DEFAULTS.revocation_poll_seconds
    )
    bound = 3 * interval + SLACK_SECONDS
    admin_key = await _admin_key(engine)
    callers = {}
    for path in ("api", "cli", "ledger"):
        email = f"{path}-{uuid.uuid4().hex[:8]}@example.com"
        callers[path] = (email, *await add_funded_user(engine, email, FUNDS))
    results = {}
    redis_url = REDIS_URL if with_redis else None
    async with (
        gateways(tmp_path, database_url, upstream, redis_url, {}) as (one, two),
        httpx.AsyncClient(timeout=30) as http,
    ):
        debits: dict[str, Callable[[str, int], Awaitable[None]]] = {
            "api": lambda _, user_id: _api_debit(http, two, admin_key, user_id),
            "cli": lambda email, _: asyncio.to_thread(_cli_debit, tmp_path, email),
            "ledger": lambda _, user_id: _ledger_debit(engine, user_id),
        }
        for path, (email, user_id, key) in callers.items():
            debit = functools.partial(debits[path], email, user_id)
            results[path] = await _until_refused(http, one, key, debit)
    for path, (seconds, before, after) in results.items():
        assert set(before) == {200}, path
        assert seconds <= bound, f"{path}: refused {seconds:.2f} s after the debit (> {bound})"
        first = after.index(402)
        assert set(after[first:]) == {402}, f"{path}: admitted again after refusing: {after}"
    # The gateways have stopped, so every settlement has been written.
    for path, (_, user_id, _) in callers.items():
        balance, held, total, charges = await _books(engine, user_id)
        _, before, after = results[path]
        served = 1 + before.count(200) + after.count(200)
        assert held == 0, path
        assert balance == total >= 0, path
        assert charges == [-HI_COST] * served, f"{path}: a call was not charged in full"


async def test_a_debit_through_the_same_process_reaches_its_next_call(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    admin_key = await _admin_key(engine)
    poor_id, poor_key = await add_funded_user(engine, "poor@example.com", FUNDS)
    rich_id, rich_key = await add_funded_user(engine, "rich@example.com", "10")
    async with (
        serve(gateway_settings(database_url, upstream)) as (url, _),
        httpx.AsyncClient(timeout=30) as http,
    ):
        assert await chat(http, url, poor_key) == 200
        assert await chat(http, url, rich_key) == 200
        await _api_debit(http, url, admin_key, poor_id)
        await _api_debit(http, url, admin_key, rich_id)
        # the lease the first call left no longer serves the poor user's next call...
        assert await chat(http, url, poor_key) == 402
        # ...and the rich user's next call leases again from what is left, at once
        assert await chat(http, url, rich_key) == 200


async def test_a_call_its_key_limit_refuses_after_a_debit_leaves_nothing_held(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    """A debit revokes the lease while a call holds part of it; a call its key's spending
    limit then refuses gives its hold back all the same, in the database too."""
    admin_key = await _admin_key(engine)
    user_id, key = await add_funded_user(engine, "capped@example.com", "10")
    headers = {"Authorization": f"Bearer {key}"}
    settings = e2e_settings(database_url, upstream, slow_models=("fake-late-600",))
    async with serve(settings) as (url, _), httpx.AsyncClient(timeout=30) as http:
        made = await http.post(
            f"{url}/user/api-keys",
            json={"name": "capped", "spend_limit": "0.000001"},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        slow = asyncio.create_task(
            http.post(
                f"{url}/v1/chat/completions",
                json={"model": "fake-late-600", "messages": HI},
                headers=headers,
            )
        )
        deadline = time.monotonic() + 15
        while not any(r.json and r.json.get("model") == "fake-late-600" for r in upstream.requests):
            assert time.monotonic() < deadline, "the slow call never reached the upstream"
            await asyncio.sleep(0.01)
        await _api_debit(http, url, admin_key, user_id)  # while the slow call holds its credit
        assert await chat(http, url, made.json()["key"]) == 403
        assert (await slow).status_code == 200
    # The gateway has stopped: every lease is given back, every settlement written.
    balance, held, total, charges = await _books(engine, user_id)
    async with engine.connect() as conn:
        left = (await conn.execute(select(process_holds))).all()
    assert held == 0, f"{held} units still held"
    assert left == []
    assert balance == total and charges == [-HI_COST]

"""On PostgreSQL, renewal runs of several processes race each other, call settlements and
trial expiry for the same users: each period is granted once and the ledger adds up."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger, trials
from gatewayz.billing import subscriptions as subs
from gatewayz.billing.plan_settings import TrialSettings
from gatewayz.billing.renewals import renew_due, renew_one
from gatewayz.store.engine import create_engine
from gatewayz.store.migrate import upgrade
from tests.billing.plan_support import (
    balance_and_ledger_sum,
    ledger_rows,
    make_plan,
    move_period_back,
    move_trial_back,
    units,
)
from tests.conftest import POSTGRES_URL, _reset_postgres, require_service

PROCESSES = 4
USERS = 3
_calls = itertools.count()


@pytest.fixture
async def pg_engines() -> AsyncIterator[list[AsyncEngine]]:
    """One engine per simulated gateway process, all on one PostgreSQL database."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    await _reset_postgres()
    await upgrade(POSTGRES_URL)
    engines = [create_engine(POSTGRES_URL) for _ in range(PROCESSES)]
    yield engines
    for engine in engines:
        await engine.dispose()


async def charge(engine: AsyncEngine, user_id: int) -> None:
    async with engine.begin() as conn:
        settlement = ledger.Settlement(user_id, f"race-{next(_calls)}", 0, units("0.1"), "m")
        await ledger.settle(conn, [settlement])


async def test_racing_renewals_grant_each_period_once_and_the_ledger_adds_up(
    pg_engines: list[AsyncEngine],
) -> None:
    engine = pg_engines[0]
    plan = await make_plan(engine, "pro", "25")
    user_ids = []
    for n in range(USERS):
        user = await accounts.create_user(engine, f"race{n}@example.com")
        await ledger.change_credits(
            engine, user.id, units("100"), kind="grant", reason="t", idempotency_key=f"paid:{n}"
        )
        async with engine.begin() as conn:
            await subs.assign_plan(conn, user.id, plan, datetime.now(UTC))
        await trials.start_trial(engine, user.id, TrialSettings(), datetime.now(UTC))
        await move_period_back(engine, user.id, timedelta(days=30, hours=1))
        await move_trial_back(engine, user.id, timedelta(days=3, hours=1))
        user_ids.append(user.id)
    now = datetime.now(UTC)

    work = [renew_due(e, now) for e in pg_engines for _ in range(2)]
    work += [renew_one(e, u, now) for e in pg_engines for u in user_ids]
    work += [trials.expire_trial(e, u, now) for e in pg_engines for u in user_ids]
    work += [charge(pg_engines[n % PROCESSES], u) for n in range(10) for u in user_ids]
    await asyncio.gather(*work)

    for user_id in user_ids:
        allowances = await ledger_rows(engine, user_id, "plan_allowance")
        assert [amount for amount, _ in allowances] == [units("25"), units("25")]
        assert len({key for _, key in allowances}) == 2
        assert len(await ledger_rows(engine, user_id, "trial_expired")) == 1
        async with engine.connect() as conn:
            found = await subs.get_subscription(conn, user_id)
            trial = await trials.get_trial(conn, user_id)
        assert trial is not None and trial.removed_units is not None
        paid, allowances_total, trial_credits, calls = (
            units("100"),
            units("50"),
            units("10"),
            units("1"),
        )
        expected = paid + allowances_total + trial_credits - calls - trial.removed_units
        assert await balance_and_ledger_sum(engine, user_id) == (expected, expected)
        assert found is not None and found.period_start <= now < found.period_end

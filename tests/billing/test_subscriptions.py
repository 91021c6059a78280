"""Subscriptions on SQLite and PostgreSQL: allowances once per period, upgrades now,
downgrades and cancellations at the period's end, late renewals."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import plans as plan_store
from gatewayz.billing import subscriptions as subs
from gatewayz.billing.plans import PlanChanges
from gatewayz.billing.renewals import renew_due
from gatewayz.errors import InvalidRequest, NotFound
from tests.billing.plan_support import (
    balance_and_ledger_sum,
    ledger_rows,
    make_plan,
    move_period_back,
    units,
)

DAY = timedelta(days=1)
A_PERIOD_AGO = 30 * DAY + timedelta(hours=1)  # the period ended an hour ago


async def assign(engine: AsyncEngine, user_id: int, plan: plan_store.Plan) -> str:
    async with engine.begin() as conn:
        change, _ = await subs.assign_plan(conn, user_id, plan, datetime.now(UTC))
    return change


async def subscription(engine: AsyncEngine, user_id: int) -> subs.Subscription:
    async with engine.connect() as conn:
        found = await subs.get_subscription(conn, user_id)
    assert found is not None
    return found


async def test_a_new_plan_grants_its_allowance_once_for_the_period(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "new@example.com")
    pro = await make_plan(engine, "pro", "25", period_days=30)

    assert await assign(engine, user.id, pro) == "started"
    assert await renew_due(engine, datetime.now(UTC)) == (0, 0)

    found = await subscription(engine, user.id)
    assert found.period_end - found.period_start == timedelta(days=30)
    assert await ledger_rows(engine, user.id, "plan_allowance") == [
        (units("25"), f"plan:{found.id}:{found.period_start.isoformat()}")
    ]
    assert await balance_and_ledger_sum(engine, user.id) == (units("25"), units("25"))


async def test_each_period_is_renewed_exactly_once(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "renew@example.com")
    await assign(engine, user.id, await make_plan(engine, "pro", "25", period_days=30))
    before = await subscription(engine, user.id)
    await move_period_back(engine, user.id, A_PERIOD_AGO)
    now = datetime.now(UTC)

    assert await renew_due(engine, now) == (1, 0)
    assert await renew_due(engine, now) == (0, 0)

    after = await subscription(engine, user.id)
    assert after.period_start == before.period_start - timedelta(hours=1)
    assert after.period_start <= now < after.period_end
    assert [amount for amount, _ in await ledger_rows(engine, user.id, "plan_allowance")] == [
        units("25"),
        units("25"),
    ]
    assert await balance_and_ledger_sum(engine, user.id) == (units("50"), units("50"))


async def test_a_late_renewal_grants_only_the_current_period(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "late@example.com")
    await assign(engine, user.id, await make_plan(engine, "weekly", "5", period_days=7))
    old_end = (await subscription(engine, user.id)).period_end
    await move_period_back(engine, user.id, timedelta(days=7 * 3 + 2))
    now = datetime.now(UTC)

    assert await renew_due(engine, now) == (1, 0)

    found = await subscription(engine, user.id)
    assert found.period_start == old_end - timedelta(days=7 * 3 + 2) + timedelta(days=14)
    assert found.period_start <= now < found.period_end
    assert len(await ledger_rows(engine, user.id, "plan_allowance")) == 2


async def test_an_upgrade_starts_a_new_period_now_with_the_larger_allowance(
    engine: AsyncEngine,
) -> None:
    user = await accounts.create_user(engine, "up@example.com")
    await assign(engine, user.id, await make_plan(engine, "basic", "10"))
    await move_period_back(engine, user.id, 10 * DAY)

    assert await assign(engine, user.id, await make_plan(engine, "pro", "25")) == "upgraded"

    found = await subscription(engine, user.id)
    assert found.plan.name == "pro"
    assert datetime.now(UTC) - found.period_start < timedelta(minutes=1)
    assert found.period_end - found.period_start == 30 * DAY
    assert await balance_and_ledger_sum(engine, user.id) == (units("35"), units("35"))


async def test_a_downgrade_waits_for_the_end_of_the_period(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "down@example.com")
    await assign(engine, user.id, await make_plan(engine, "pro", "25"))
    basic = await make_plan(engine, "basic", "10", period_days=10)

    assert await assign(engine, user.id, basic) == "downgrade_scheduled"
    pending = await subscription(engine, user.id)
    assert (pending.plan.name, pending.next_plan and pending.next_plan.name) == ("pro", "basic")
    assert await balance_and_ledger_sum(engine, user.id) == (units("25"), units("25"))

    await move_period_back(engine, user.id, A_PERIOD_AGO)
    assert await renew_due(engine, datetime.now(UTC)) == (1, 0)

    found = await subscription(engine, user.id)
    assert (found.plan.name, found.next_plan) == ("basic", None)
    assert found.period_end - found.period_start == 10 * DAY
    assert await balance_and_ledger_sum(engine, user.id) == (units("35"), units("35"))


async def test_assigning_the_current_plan_again_undoes_a_pending_change(
    engine: AsyncEngine,
) -> None:
    user = await accounts.create_user(engine, "resume@example.com")
    pro = await make_plan(engine, "pro", "25")
    await assign(engine, user.id, pro)
    await assign(engine, user.id, await make_plan(engine, "basic", "10"))

    assert await assign(engine, user.id, pro) == "resumed"
    assert await assign(engine, user.id, pro) == "unchanged"
    assert (await subscription(engine, user.id)).next_plan is None
    assert len(await ledger_rows(engine, user.id, "plan_allowance")) == 1


async def test_a_plan_canceled_at_period_end_is_not_renewed(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "cancel@example.com")
    await assign(engine, user.id, await make_plan(engine, "pro", "25"))
    async with engine.begin() as conn:
        pending = await subs.cancel(conn, user.id, immediately=False, now=datetime.now(UTC))
    assert (pending.status, pending.cancel_at_period_end) == ("active", True)

    await move_period_back(engine, user.id, 31 * DAY)
    assert await renew_due(engine, datetime.now(UTC)) == (0, 1)

    assert (await subscription(engine, user.id)).status == "canceled"
    assert await balance_and_ledger_sum(engine, user.id) == (units("25"), units("25"))


async def test_an_immediate_cancel_ends_the_plan_and_keeps_the_credits(
    engine: AsyncEngine,
) -> None:
    user = await accounts.create_user(engine, "now@example.com")
    pro = await make_plan(engine, "pro", "25")
    await assign(engine, user.id, pro)
    async with engine.begin() as conn:
        ended = await subs.cancel(conn, user.id, immediately=True, now=datetime.now(UTC))
    assert ended.status == "canceled"
    with pytest.raises(NotFound):
        async with engine.begin() as conn:
            await subs.cancel(conn, user.id, immediately=True, now=datetime.now(UTC))

    assert await assign(engine, user.id, pro) == "started"
    assert await balance_and_ledger_sum(engine, user.id) == (units("50"), units("50"))


async def test_a_deactivated_plan_cannot_be_assigned_but_its_subscribers_renew(
    engine: AsyncEngine,
) -> None:
    user = await accounts.create_user(engine, "legacy@example.com")
    other = await accounts.create_user(engine, "other@example.com")
    legacy = await make_plan(engine, "legacy", "3")
    await assign(engine, user.id, legacy)
    async with engine.begin() as conn:
        legacy = await plan_store.update_plan(conn, legacy.id, PlanChanges(active=False))

    with pytest.raises(InvalidRequest, match="not active"):
        await assign(engine, other.id, legacy)
    await move_period_back(engine, user.id, A_PERIOD_AGO)
    assert await renew_due(engine, datetime.now(UTC)) == (1, 0)
    assert await balance_and_ledger_sum(engine, user.id) == (units("6"), units("6"))

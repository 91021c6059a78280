"""The free trial on SQLite and PostgreSQL: once per user, expiry removes only what is unused,
and one ending notice."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger, trials
from gatewayz.billing.entitlements import Entitlements
from gatewayz.billing.plan_settings import TrialSettings
from gatewayz.billing.renewals import BillingTasks
from gatewayz.errors import Conflict, PermissionDenied
from gatewayz.notify.mail import ConsoleMailer
from gatewayz.notify.notices import Notifier
from tests.billing.plan_support import (
    balance_and_ledger_sum,
    ledger_rows,
    move_trial_back,
    units,
)

TRIAL = TrialSettings(credits="10", days=3)
EXPIRED = timedelta(days=3, minutes=1)


async def charge(engine: AsyncEngine, user_id: int, credits: str, request_id: str) -> None:
    """Settle one call that cost `credits`, as the gateway does when a call ends."""
    async with engine.begin() as conn:
        await ledger.settle(
            conn, [ledger.Settlement(user_id, request_id, 0, units(credits), "fake/fake-model")]
        )


async def give(engine: AsyncEngine, user_id: int, credits: str, key: str) -> None:
    await ledger.change_credits(
        engine, user_id, units(credits), kind="adjustment", reason="test", idempotency_key=key
    )


async def test_a_trial_starts_once_and_grants_its_credits(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "trial@example.com")
    now = datetime.now(UTC)

    started = await trials.start_trial(engine, user.id, TRIAL, now)
    assert started.expires_at - now == timedelta(days=3)
    with pytest.raises(Conflict, match="already had a free trial"):
        await trials.start_trial(engine, user.id, TRIAL, now)

    assert await ledger_rows(engine, user.id, "trial") == [(units("10"), f"trial:{user.id}")]
    assert await balance_and_ledger_sum(engine, user.id) == (units("10"), units("10"))


async def test_concurrent_starts_make_one_trial_and_one_grant(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "race@example.com")
    now = datetime.now(UTC)

    results = await asyncio.gather(
        *(trials.start_trial(engine, user.id, TRIAL, now) for _ in range(6)),
        return_exceptions=True,
    )

    assert sum(isinstance(r, trials.Trial) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 5
    assert len(await ledger_rows(engine, user.id, "trial")) == 1
    assert await balance_and_ledger_sum(engine, user.id) == (units("10"), units("10"))


async def test_a_disabled_trial_cannot_start(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "off@example.com")
    with pytest.raises(PermissionDenied, match="no free trial"):
        await trials.start_trial(engine, user.id, TrialSettings(enabled=False), datetime.now(UTC))


async def test_expiry_removes_only_the_unused_trial_credits(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "expire@example.com")
    await give(engine, user.id, "5", "paid:expire")
    await trials.start_trial(engine, user.id, TRIAL, datetime.now(UTC))
    await charge(engine, user.id, "3", "call-1")
    await move_trial_back(engine, user.id, EXPIRED)

    assert await trials.expire_due(engine, datetime.now(UTC)) == [user.id]
    assert await trials.expire_due(engine, datetime.now(UTC)) == []

    assert await ledger_rows(engine, user.id, "trial_expired") == [
        (-units("7"), f"trial_expired:{user.id}")
    ]
    assert await balance_and_ledger_sum(engine, user.id) == (units("5"), units("5"))
    async with engine.connect() as conn:
        settled = await trials.get_trial(conn, user.id)
    assert settled is not None and settled.removed_units == units("7")
    assert settled.status(datetime.now(UTC)) == "expired"


async def test_usage_before_the_trial_does_not_count_against_it(engine: AsyncEngine) -> None:
    user = await accounts.create_user(engine, "before@example.com")
    await give(engine, user.id, "5", "paid:before")
    await charge(engine, user.id, "4", "call-before")
    await trials.start_trial(engine, user.id, TRIAL, datetime.now(UTC))
    await move_trial_back(engine, user.id, EXPIRED)

    assert await trials.expire_trial(engine, user.id, datetime.now(UTC)) == units("10")
    assert await balance_and_ledger_sum(engine, user.id) == (units("1"), units("1"))


async def test_expiry_never_takes_more_than_the_balance(engine: AsyncEngine) -> None:
    spent_it_all = await accounts.create_user(engine, "spent@example.com")
    await give(engine, spent_it_all.id, "5", "paid:spent")
    await trials.start_trial(engine, spent_it_all.id, TRIAL, datetime.now(UTC))
    await charge(engine, spent_it_all.id, "12", "call-spent")
    taken_back = await accounts.create_user(engine, "taken@example.com")
    await trials.start_trial(engine, taken_back.id, TRIAL, datetime.now(UTC))
    await charge(engine, taken_back.id, "2", "call-taken")
    await ledger.change_credits(
        engine, taken_back.id, -units("6"), kind="adjustment", reason="t", idempotency_key="t"
    )
    for user in (spent_it_all, taken_back):
        await move_trial_back(engine, user.id, EXPIRED)

    assert await trials.expire_trial(engine, spent_it_all.id, datetime.now(UTC)) == 0
    assert await trials.expire_trial(engine, taken_back.id, datetime.now(UTC)) == units("2")

    assert await balance_and_ledger_sum(engine, spent_it_all.id) == (units("3"), units("3"))
    assert await balance_and_ledger_sum(engine, taken_back.id) == (0, 0)


async def test_one_ending_notice_is_sent_when_less_than_a_day_remains(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    ending = await accounts.create_user(engine, "ending@example.com")
    fresh = await accounts.create_user(engine, "fresh@example.com")
    for user in (ending, fresh):
        await trials.start_trial(engine, user.id, TRIAL, datetime.now(UTC))
    await move_trial_back(engine, ending.id, timedelta(days=2, hours=1))
    notifier = Notifier(engine, ConsoleMailer())
    tasks = BillingTasks(
        engine, notifier, Entitlements(engine, TRIAL, 5, _nothing_queued), TRIAL, 60
    )

    with caplog.at_level(logging.INFO, logger="gatewayz.mail"):
        await tasks.run_once()
        await tasks.run_once()
        await notifier.close()

    mails = [r.getMessage() for r in caplog.records if "trial ends soon" in r.getMessage()]
    assert len(mails) == 1 and "ending@example.com" in mails[0]


async def _nothing_queued() -> None:
    """No charges wait to be written: these tests serve no calls."""

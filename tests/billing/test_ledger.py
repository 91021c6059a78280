"""The credit ledger on SQLite and PostgreSQL: holds, settlements and credit changes."""

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger
from gatewayz.billing.ledger import InsufficientBalance, Settlement, UnknownUser
from gatewayz.store.tables import ledger as ledger_table

CREDIT = 10**9


async def _user(engine: AsyncEngine, email: str = "u@example.com", units: int = 0) -> int:
    user = await accounts.create_user(engine, email)
    if units:
        await ledger.change_credits(
            engine, user.id, units, kind="grant", reason="test", idempotency_key=f"seed:{email}"
        )
    return user.id


async def _state(engine: AsyncEngine, user_id: int) -> tuple[int, int]:
    user = await accounts.get_user(engine, user_id=user_id)
    return user.balance_units, user.reserved_units


async def _ledger_rows(engine: AsyncEngine, user_id: int) -> list[dict]:
    query = (
        select(ledger_table).where(ledger_table.c.user_id == user_id).order_by(ledger_table.c.id)
    )
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]


async def _assert_balance_is_sum_of_ledger(engine: AsyncEngine, user_id: int) -> None:
    async with engine.connect() as conn:
        total = await conn.scalar(
            select(func.coalesce(func.sum(ledger_table.c.amount_units), 0)).where(
                ledger_table.c.user_id == user_id
            )
        )
    balance, reserved = await _state(engine, user_id)
    assert balance == int(total)
    assert reserved >= 0


async def _settle(engine: AsyncEngine, *settlements: Settlement) -> list[int]:
    async with engine.begin() as conn:
        return await ledger.settle(conn, list(settlements))


# --- reserve ---------------------------------------------------------------------


async def test_reserve_holds_only_what_the_unheld_balance_covers(engine: AsyncEngine) -> None:
    user_id = await _user(engine, units=10 * CREDIT)
    assert await ledger.reserve(engine, user_id, 6 * CREDIT)
    assert await _state(engine, user_id) == (10 * CREDIT, 6 * CREDIT)
    assert not await ledger.reserve(engine, user_id, 4 * CREDIT + 1)
    assert await ledger.reserve(engine, user_id, 4 * CREDIT)
    assert not await ledger.reserve(engine, user_id, 1)
    assert await _state(engine, user_id) == (10 * CREDIT, 10 * CREDIT)


async def test_reserve_fails_for_an_empty_balance_and_an_unknown_user(
    engine: AsyncEngine,
) -> None:
    user_id = await _user(engine)
    assert not await ledger.reserve(engine, user_id, 1)
    assert not await ledger.reserve(engine, user_id + 1000, 1)


async def test_concurrent_reserves_never_hold_more_than_the_balance(engine: AsyncEngine) -> None:
    user_id = await _user(engine, units=5 * CREDIT)
    results = await asyncio.gather(*(ledger.reserve(engine, user_id, CREDIT) for _ in range(12)))
    assert sum(results) == 5
    assert await _state(engine, user_id) == (5 * CREDIT, 5 * CREDIT)


# --- change_credits ----------------------------------------------------------------


async def test_change_credits_writes_balance_and_ledger_row_together(engine: AsyncEngine) -> None:
    user_id = await _user(engine)
    change = await ledger.change_credits(
        engine, user_id, 3 * CREDIT, kind="grant", reason="welcome", idempotency_key="k1"
    )
    assert change == ledger.CreditChange(3 * CREDIT, 3 * CREDIT, applied_now=True)
    [row] = await _ledger_rows(engine, user_id)
    assert (row["amount_units"], row["balance_after_units"]) == (3 * CREDIT, 3 * CREDIT)
    assert (row["kind"], row["reason"], row["idempotency_key"]) == ("grant", "welcome", "k1")


async def test_change_credits_is_applied_once_per_key(engine: AsyncEngine) -> None:
    user_id = await _user(engine)
    first = await ledger.change_credits(
        engine, user_id, 2 * CREDIT, kind="grant", reason=None, idempotency_key="once"
    )
    second = await ledger.change_credits(
        engine, user_id, 2 * CREDIT, kind="grant", reason=None, idempotency_key="once"
    )
    assert first.applied_now and not second.applied_now
    assert second.balance_after_units == first.balance_after_units == 2 * CREDIT
    assert len(await _ledger_rows(engine, user_id)) == 1
    assert await _state(engine, user_id) == (2 * CREDIT, 0)


async def test_concurrent_retries_of_one_change_apply_it_once(engine: AsyncEngine) -> None:
    user_id = await _user(engine)
    changes = await asyncio.gather(
        *(
            ledger.change_credits(
                engine, user_id, CREDIT, kind="grant", reason=None, idempotency_key="race"
            )
            for _ in range(8)
        )
    )
    assert sum(c.applied_now for c in changes) == 1
    assert len(await _ledger_rows(engine, user_id)) == 1
    assert await _state(engine, user_id) == (CREDIT, 0)


async def test_change_credits_never_goes_below_zero(engine: AsyncEngine) -> None:
    user_id = await _user(engine, units=CREDIT)
    with pytest.raises(InsufficientBalance):
        await ledger.change_credits(
            engine, user_id, -CREDIT - 1, kind="refund", reason=None, idempotency_key="too-much"
        )
    assert await _state(engine, user_id) == (CREDIT, 0)
    assert len(await _ledger_rows(engine, user_id)) == 1
    change = await ledger.change_credits(
        engine, user_id, -CREDIT, kind="refund", reason=None, idempotency_key="all"
    )
    assert change.balance_after_units == 0
    await _assert_balance_is_sum_of_ledger(engine, user_id)


async def test_change_credits_for_an_unknown_user(engine: AsyncEngine) -> None:
    with pytest.raises(UnknownUser):
        await ledger.change_credits(
            engine, 424242, CREDIT, kind="grant", reason=None, idempotency_key="ghost"
        )
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ledger_table)) == 0


# --- settle ------------------------------------------------------------------------


async def test_settle_charges_the_cost_and_releases_the_hold(engine: AsyncEngine) -> None:
    user_id = await _user(engine, units=10 * CREDIT)
    assert await ledger.reserve(engine, user_id, 2 * CREDIT)
    await _settle(engine, Settlement(user_id, "req-1", 2 * CREDIT, 46_000, "chat m"))
    assert await _state(engine, user_id) == (10 * CREDIT - 46_000, 0)
    row = (await _ledger_rows(engine, user_id))[-1]
    assert row["amount_units"] == -46_000
    assert row["balance_after_units"] == 10 * CREDIT - 46_000
    assert (row["kind"], row["request_id"], row["reason"]) == ("usage", "req-1", "chat m")
    await _assert_balance_is_sum_of_ledger(engine, user_id)


async def test_settle_of_a_free_call_only_releases_the_hold(engine: AsyncEngine) -> None:
    user_id = await _user(engine, units=CREDIT)
    assert await ledger.reserve(engine, user_id, CREDIT)
    await _settle(engine, Settlement(user_id, "req-free", CREDIT, 0, "failed call"))
    assert await _state(engine, user_id) == (CREDIT, 0)
    assert len(await _ledger_rows(engine, user_id)) == 1


async def test_settle_charges_a_cost_past_its_hold_in_full_and_records_the_shortfall(
    engine: AsyncEngine,
) -> None:
    user_id = await _user(engine, units=CREDIT)
    assert await ledger.reserve(engine, user_id, CREDIT // 2)
    big = Settlement(
        user_id, "req-big", CREDIT // 2, 3 * CREDIT, "m", shortfall_units=5 * CREDIT // 2
    )
    assert await _settle(engine, big) == [user_id]
    assert await _state(engine, user_id) == (-2 * CREDIT, 0)
    row = (await _ledger_rows(engine, user_id))[-1]
    assert (row["amount_units"], row["balance_after_units"]) == (-3 * CREDIT, -2 * CREDIT)
    assert row["shortfall_units"] == 5 * CREDIT // 2
    await _assert_balance_is_sum_of_ledger(engine, user_id)
    assert not await ledger.reserve(engine, user_id, 0), "a debt holds nothing, not even 0"
    assert await ledger.debt(engine, user_id, "req-big") == (2 * CREDIT, True)


async def test_a_charge_its_hold_covered_is_a_shortfall_where_the_balance_did_not(
    engine: AsyncEngine,
) -> None:
    user_id = await _user(engine, units=CREDIT)
    assert await ledger.reserve(engine, user_id, CREDIT)
    await ledger.change_credits(  # credits removed while the hold stands (a refund)
        engine, user_id, -CREDIT // 2, kind="refund", reason=None, idempotency_key="refund"
    )
    covered = Settlement(user_id, "req-held", CREDIT, 3 * CREDIT // 4, "m")
    assert await _settle(engine, covered) == [user_id]
    assert await _state(engine, user_id) == (-CREDIT // 4, 0)
    assert (await _ledger_rows(engine, user_id))[-1]["shortfall_units"] == CREDIT // 4
    await _assert_balance_is_sum_of_ledger(engine, user_id)


async def test_credits_pay_a_debt_off_and_removals_stop_at_zero(engine: AsyncEngine) -> None:
    user_id = await _user(engine, units=CREDIT)
    await _settle(engine, Settlement(user_id, "r", 0, 3 * CREDIT, "m", shortfall_units=3 * CREDIT))
    with pytest.raises(InsufficientBalance):
        await ledger.change_credits(
            engine, user_id, -1, kind="admin_adjustment", reason=None, idempotency_key="take"
        )
    change = await ledger.change_credits(
        engine, user_id, CREDIT, kind="grant", reason=None, idempotency_key="pay"
    )
    assert change.balance_after_units == -CREDIT
    assert await ledger.debt(engine, user_id) == (CREDIT, False)
    await ledger.change_credits(
        engine, user_id, 2 * CREDIT, kind="grant", reason=None, idempotency_key="pay-more"
    )
    assert await _state(engine, user_id) == (CREDIT, 0)
    assert await ledger.debt(engine, user_id, "r") == (0, True)
    await _assert_balance_is_sum_of_ledger(engine, user_id)


async def test_one_batch_settles_many_calls_of_many_users(engine: AsyncEngine) -> None:
    alice = await _user(engine, "alice@example.com", 10 * CREDIT)
    bob = await _user(engine, "bob@example.com", CREDIT)
    for user_id, units in ((alice, 3 * CREDIT), (alice, 2 * CREDIT), (bob, CREDIT)):
        assert await ledger.reserve(engine, user_id, units)
    short = await _settle(
        engine,
        Settlement(alice, "a1", 3 * CREDIT, CREDIT, "a1"),
        Settlement(bob, "b1", CREDIT, 2 * CREDIT, "b1", shortfall_units=CREDIT),
        Settlement(alice, "a2", 2 * CREDIT, 2 * CREDIT, "a2"),
    )
    assert short == [bob]
    assert await _state(engine, alice) == (7 * CREDIT, 0)
    assert await _state(engine, bob) == (-CREDIT, 0)
    after = [r["balance_after_units"] for r in await _ledger_rows(engine, alice)]
    assert after == [10 * CREDIT, 9 * CREDIT, 7 * CREDIT]
    for user_id in (alice, bob):
        await _assert_balance_is_sum_of_ledger(engine, user_id)


async def test_balance_equals_ledger_sum_after_mixed_concurrent_activity(
    engine: AsyncEngine,
) -> None:
    user_id = await _user(engine, units=3 * CREDIT)

    async def call(i: int) -> None:
        if await ledger.reserve(engine, user_id, CREDIT):
            await _settle(engine, Settlement(user_id, f"call-{i}", CREDIT, 700_000_000, "c"))

    async def grant(i: int) -> None:
        await ledger.change_credits(
            engine, user_id, CREDIT // 4, kind="grant", reason=None, idempotency_key=f"g{i % 3}"
        )

    await asyncio.gather(*(call(i) for i in range(10)), *(grant(i) for i in range(6)))
    balance, reserved = await _state(engine, user_id)
    assert reserved == 0
    assert balance >= 0
    await _assert_balance_is_sum_of_ledger(engine, user_id)
    grants = [r for r in await _ledger_rows(engine, user_id) if r["kind"] == "grant"]
    assert len(grants) == 4, "the seed grant plus three distinct idempotency keys"

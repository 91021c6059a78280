"""Credit adjustments over HTTP: ledger row, audit entry, idempotency, refusals."""

import asyncio
from typing import Any

import orjson
from sqlalchemy import func, select

from gatewayz.store.tables import audit_logs, ledger, users
from tests.api.admin_support import Site, error_of, site  # noqa: F401


async def _state(site: Site) -> tuple[int, list[tuple[Any, ...]], list[Any]]:  # noqa: F811
    """The plain user's balance, ledger rows and credit audit entries."""
    async with site.engine.connect() as conn:
        balance = await conn.scalar(select(users.c.balance_units).where(users.c.id == site.user_id))
        rows = (
            await conn.execute(
                select(ledger.c.amount_units, ledger.c.kind, ledger.c.reason)
                .where(ledger.c.user_id == site.user_id)
                .order_by(ledger.c.id)
            )
        ).all()
        events = (
            await conn.execute(select(audit_logs).where(audit_logs.c.event == "credits.adjusted"))
        ).all()
    return int(balance), [tuple(r) for r in rows], list(events)


def _url(site: Site) -> str:  # noqa: F811
    return f"/admin/users/{site.user_id}/credits"


async def test_credits_are_added_and_removed_with_ledger_row_and_audit_entry(
    site: Site,  # noqa: F811
) -> None:
    added = await site.admin.post(_url(site), json={"amount": "20.5", "reason": "goodwill"})
    assert added.json() == {
        "user_id": site.user_id,
        "amount": "20.5",
        "credits": "20.5",
        "kind": "admin_adjustment",
        "reason": "goodwill",
        "applied": True,
    }
    removed = await site.admin.post(_url(site), json={"amount": "-0.25", "reason": "  typo  "})
    assert (removed.json()["amount"], removed.json()["credits"]) == ("-0.25", "20.25")
    balance, rows, events = await _state(site)
    assert balance == 20_250_000_000 == sum(r[0] for r in rows)
    assert rows == [
        (20_500_000_000, "admin_adjustment", "goodwill"),
        (-250_000_000, "admin_adjustment", "typo"),
    ]
    first = events[0]
    assert (first.actor_user_id, first.target_type, first.target_id, first.source_ip) == (
        site.admin_id,
        "user",
        str(site.user_id),
        "127.0.0.1",
    )
    assert orjson.loads(first.details) == {
        "amount": "20.5",
        "reason": "goodwill",
        "balance_after": "20.5",
    }
    assert len(events) == 2


async def test_a_retry_with_the_same_key_applies_once(site: Site) -> None:  # noqa: F811
    body = {"amount": "5", "reason": "refund #7", "idempotency_key": "ticket-7"}
    first = await site.admin.post(_url(site), json=body)
    again = await site.admin.post(_url(site), json=body)
    assert (first.json()["applied"], again.json()["applied"]) == (True, False)
    assert again.json()["credits"] == "5"
    racing = await asyncio.gather(
        *(
            site.admin.post(_url(site), json={**body, "idempotency_key": "ticket-8"})
            for _ in range(5)
        )
    )
    assert [r.status_code for r in racing] == [200] * 5
    assert sorted(r.json()["applied"] for r in racing) == [False] * 4 + [True]
    other = await site.admin.post(_url(site), json={**body, "amount": "6"})
    assert (other.status_code, error_of(other)["param"]) == (409, "idempotency_key")
    balance, rows, events = await _state(site)
    assert (balance, len(rows), len(events)) == (10_000_000_000, 2, 2)


async def test_removing_more_than_the_balance_changes_nothing(site: Site) -> None:  # noqa: F811
    await site.admin.post(_url(site), json={"amount": "1", "reason": "start"})
    refused = await site.admin.post(_url(site), json={"amount": "-1.5", "reason": "too much"})
    assert refused.status_code == 409
    assert error_of(refused)["message"] == (
        "amount: cannot remove 1.5 credits, the balance is 1. Nothing was changed."
    )
    balance, rows, events = await _state(site)
    assert (balance, len(rows), len(events)) == (1_000_000_000, 1, 1)


async def test_bad_adjustments_are_refused_naming_the_field(site: Site) -> None:  # noqa: F811
    cases = [
        ({"amount": "1", "reason": "   "}, 400, "reason"),
        ({"amount": "1"}, 400, "reason"),
        ({"amount": "abc", "reason": "x"}, 400, "amount"),
        ({"amount": "0", "reason": "x"}, 400, "amount"),
        ({"amount": "NaN", "reason": "x"}, 400, "amount"),
        ({"amount": "1e20", "reason": "x"}, 400, "amount"),
        ({"amount": "0.0000000001", "reason": "x"}, 400, "amount"),
        ({"amount": "1", "reason": "a\x00b"}, 400, "reason"),
        ({"amount": "1", "reason": "x", "idempotency_key": "k\x00"}, 400, "idempotency_key"),
    ]
    for payload, status, param in cases:
        response = await site.admin.post(_url(site), json=payload)
        assert (response.status_code, error_of(response)["param"]) == (status, param), payload
    unknown = await site.admin.post(
        "/admin/users/9999/credits", json={"amount": "1", "reason": "x"}
    )
    assert unknown.status_code == 404
    async with site.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ledger)) == 0


async def test_an_id_or_balance_too_large_to_store_is_refused_not_a_500(
    site: Site,  # noqa: F811
) -> None:
    huge_id = await site.admin.post(
        f"/admin/users/{2**31}/credits", json={"amount": "1", "reason": "x"}
    )
    assert (huge_id.status_code, error_of(huge_id)["param"]) == (400, "user_id")
    most = {"amount": "1000000000", "reason": "grant"}
    for _ in range(9):  # 9 * 10^18 units: just below the 64-bit limit of the balance column
        assert (await site.admin.post(_url(site), json=most)).status_code == 200

    over = await site.admin.post(_url(site), json=most)

    assert (over.status_code, error_of(over)["param"]) == (409, "amount")
    assert "Nothing was changed" in error_of(over)["message"]
    balance, rows, _ = await _state(site)
    assert balance == 9 * 10**18 == sum(r[0] for r in rows)

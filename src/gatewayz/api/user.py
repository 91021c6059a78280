"""The caller's own account: balance, profile, usage and ledger (any valid key)."""

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from gatewayz.accounts import account_details
from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api import account_views as view
from gatewayz.api.admin_params import From, QueryId, Text, To, time_range
from gatewayz.api.admin_usage import usage_response
from gatewayz.api.deps import EngineDep
from gatewayz.billing.transactions import transactions
from gatewayz.telemetry.log_query import LogFilter

router = APIRouter(tags=["user"])

Caller = Annotated[Principal, Depends(current_principal)]


@router.get("/user/balance")
async def balance(engine: EngineDep, principal: Caller) -> dict[str, object]:
    """Settled credits, the part held by calls in flight, what is available now, and the
    plan if the caller has one."""
    async with engine.connect() as conn:
        found = await account_details.account(conn, principal.user_id)
    return {
        "user_id": found.id,
        "email": found.email,
        **view.money(found.balance_units, found.reserved_units),
        "currency": "USD",
        "plan": view.plan(found.plan),
    }


@router.get("/user/profile")
async def profile(engine: EngineDep, principal: Caller) -> dict[str, Any]:
    """Who the caller is: role and permissions, referral code, plan, trial, key count."""
    async with engine.connect() as conn:
        found = await account_details.account(conn, principal.user_id)
    return {**view.account(found), "permissions": sorted(principal.permissions)}


@router.get("/user/usage")
async def usage(
    engine: EngineDep,
    principal: Caller,
    start: From = None,
    to: To = None,
    group_by: Annotated[Literal["day", "model", "key"], Query()] = "day",
    model: Annotated[Text | None, Query(max_length=300)] = None,
) -> dict[str, Any]:
    """The caller's requests, tokens and cost in [from, to) (default: 30 days), grouped."""
    since, until = time_range(start, to, timedelta(days=30))
    where = LogFilter(since=since, until=until, user_id=principal.user_id, model=model)
    return await usage_response(engine, where, group_by, 1000)


@router.get("/user/transactions")
async def ledger_rows(
    engine: EngineDep,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[QueryId, Query(description="next_before_id of a page.")] = None,
    kind: Annotated[Text | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """The caller's balance changes, newest first; pass `next_before_id` as `before_id` for
    the next page (null: no more)."""
    async with engine.connect() as conn:
        rows = await transactions(
            conn, principal.user_id, limit=limit + 1, before_id=before_id, kind=kind
        )
    page = rows[:limit]
    return {
        "data": [view.transaction(t) for t in page],
        "next_before_id": page[-1].id if len(rows) > limit else None,
    }

"""JSON shapes of accounts, plans, trials, keys, ledger rows and usage groups.

Money is a decimal credit string, times are ISO 8601 in UTC.
"""

from typing import Any

from gatewayz.accounts.account_details import Account, KeyRow, PlanInfo, TrialInfo
from gatewayz.accounts.user_search import UserSummary
from gatewayz.api.monitoring_views import totals, when
from gatewayz.billing.money import format_credits
from gatewayz.billing.transactions import Shortfall, Transaction
from gatewayz.telemetry.stats import Group


def money(balance_units: int, reserved_units: int) -> dict[str, str]:
    return {
        "credits": format_credits(balance_units),
        "reserved": format_credits(reserved_units),
        "available": format_credits(balance_units - reserved_units),
    }


def user_summary(u: UserSummary) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "role": u.role,
        **money(u.balance_units, u.reserved_units),
        "created_at": when(u.created_at),
        "key_count": u.active_keys,
        "plan": u.plan,
    }


def account(a: Account) -> dict[str, Any]:
    """The account as its owner and administrators see it."""
    return {
        "id": a.id,
        "email": a.email,
        "role": a.role,
        **money(a.balance_units, a.reserved_units),
        "created_at": when(a.created_at),
        "referral_code": a.referral_code,
        "key_count": a.active_keys,
        "plan": plan(a.plan),
        "trial": trial(a.trial),
    }


def plan(p: PlanInfo | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "name": p.name,
        "status": p.status,
        "allowance": format_credits(p.allowance_units),
        "period_days": p.period_days,
        "period_start": when(p.period_start),
        "period_end": when(p.period_end),
        "cancel_at_period_end": p.cancel_at_period_end,
    }


def trial(t: TrialInfo | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "credits": format_credits(t.credits_units),
        "started_at": when(t.started_at),
        "expires_at": when(t.expires_at),
        "ended_at": when(t.ended_at),
        "active": t.active,
    }


def key(k: KeyRow) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "prefix": k.display_prefix,
        "environment": k.environment,
        "created_at": when(k.created_at),
        "expires_at": when(k.expires_at),
        "revoked_at": when(k.revoked_at),
    }


def transaction(t: Transaction) -> dict[str, Any]:
    return {
        "id": t.id,
        "amount": format_credits(t.amount_units),
        "balance_after": format_credits(t.balance_after_units),
        "kind": t.kind,
        "reason": t.reason,
        "request_id": t.request_id,
        "shortfall": format_credits(t.shortfall_units),
        "created_at": when(t.created_at),
    }


def shortfall(s: Shortfall) -> dict[str, Any]:
    """A call that cost more than its hold covered, with whose it was."""
    return {"user_id": s.user_id, "email": s.email, **transaction(s.transaction)}


_GROUP_FIELDS = {"user": ("user_id", "email"), "key": ("key_id", "key"), "model": ("model", None)}


def usage_group(group_by: str, g: Group) -> dict[str, Any]:
    """One group's requests, tokens and cost, keyed by what it groups."""
    name, label = _GROUP_FIELDS.get(group_by, ("date", None))
    out: dict[str, Any] = {name: g.key}
    if label is not None:
        out[label] = g.label
    figures = totals(g.totals)
    return {
        **out,
        "requests": figures["requests"],
        "errors": figures["errors"],
        "input_tokens": figures["input_tokens"],
        "output_tokens": figures["output_tokens"],
        "total_tokens": figures["total_tokens"],
        "cost": figures["cost"],
    }

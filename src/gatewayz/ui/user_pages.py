"""The user's own pages: overview (balance, trial, transactions), usage, account."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gatewayz.accounts import audit, passwords, web_accounts
from gatewayz.accounts.users import AccountError
from gatewayz.ui.charts import bar_chart
from gatewayz.ui.render import clear_session, page, redirect
from gatewayz.ui.visit import Visit, posted, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
USAGE_DAYS = (7, 30, 90)
NOTES = {
    "password": "Your password is set. Your other sessions were signed out.",
    "ended": "That session is signed out.",
    "trial": "Your free trial has started.",
}


@router.get("/")
async def overview(view: Viewing) -> Response:
    api = view.client()
    balance = await api.get("/user/balance")
    trial = await api.get("/user/trial")
    rows = await api.get("/user/transactions", limit=20)
    return page(
        view,
        "overview.html",
        title="Overview",
        balance=balance.body,
        trial=trial.body if trial.ok else None,
        transactions=rows.body["data"] if rows.ok else [],
        notes=NOTES,
    )


@router.get("/usage")
async def usage(view: Viewing, days: int = 30) -> Response:
    """Requests, tokens and cost per day, model and key, from the API's usage report."""
    api = view.client()
    days = days if days in USAGE_DAYS else 30
    now = datetime.now(UTC)
    since = (now - timedelta(days=days)).replace(microsecond=0).isoformat()
    reports: dict[str, Any] = {}
    for group in ("day", "model", "key"):
        answer = await api.get("/user/usage", group_by=group, **{"from": since})
        reports[group] = answer.body if answer.ok else {"data": [], "totals": {}}
    by_day = _every_day(reports["day"]["data"], now, days)
    return page(
        view,
        "usage.html",
        title="Usage",
        days=days,
        choices=USAGE_DAYS,
        reports=reports,
        cost_chart=bar_chart("Cost per day (credits)", [(d, Decimal(c)) for d, c, _ in by_day]),
        request_chart=bar_chart("Requests per day", [(d, n) for d, _, n in by_day]),
        model_chart=bar_chart(
            "Cost per model (credits)",
            [(g["model"], Decimal(g["cost"])) for g in reports["model"]["data"]],
        ),
    )


def _every_day(
    groups: list[dict[str, Any]], now: datetime, days: int
) -> list[tuple[str, str, int]]:
    """(date, cost, requests) for each of the last `days` days, 0 for days without calls."""
    found = {g["date"]: g for g in groups}
    out = []
    for back in range(days - 1, -1, -1):
        day = (now - timedelta(days=back)).date().isoformat()
        group = found.get(day, {})
        out.append((day, group.get("cost", "0"), int(group.get("requests", 0))))
    return out


@router.get("/account")
async def account(view: Viewing) -> Response:
    return await _account_page(view)


async def _account_page(view: Visit, status: int = 200, error: str = "") -> Response:
    session, _ = view.current()
    async with view.services.engine.connect() as conn:
        has_password = await passwords.has_password(conn, session.user_id)
    return page(
        view,
        "account.html",
        status,
        title="Account",
        error=error,
        has_password=has_password,
        open_sessions=await view.services.web_sessions.list_open(session.user_id),
        this_session=session.id,
        min_length=view.services.settings.accounts.min_password_length,
        notes=NOTES,
    )


@router.post("/account/password")
async def set_password(view: Posting) -> Response:
    """Set or change the password (the current one is needed to change it); every other
    session of the account is signed out."""
    session, _ = view.current()
    assert view.form is not None
    request = view.request
    current = str(view.form.get("current_password") or "")
    new = str(view.form.get("password") or "")
    async with view.services.engine.connect() as conn:
        has_password = await passwords.has_password(conn, session.user_id)
    if has_password and not await passwords.check(view.services.engine, session.user_id, current):
        return await _account_page(view, 400, "The current password is not right.")
    try:
        passwords.check_strength(new, view.services.settings.accounts.min_password_length)
    except AccountError as exc:
        return await _account_page(view, 400, str(exc))
    address = audit.source_ip(request)
    await web_accounts.change_password(
        view.services.engine, session.user_id, await passwords.hash_password(new), address
    )
    for other in await view.services.web_sessions.list_open(session.user_id):
        if other.id != session.id:
            for key_id in await view.services.web_sessions.end(session.user_id, other.id, address):
                view.services.authenticator.forget(key_id)
    return redirect(view, "/ui/account?note=password")


@router.post("/account/sessions/{session_id}/end")
async def end_session(view: Posting, session_id: int) -> Response:
    """Sign out one of the account's sessions (this one too)."""
    session, _ = view.current()
    request = view.request
    ended = await view.services.web_sessions.end(
        session.user_id, session_id, audit.source_ip(request)
    )
    for key_id in ended:
        view.services.authenticator.forget(key_id)
    if session_id == session.id:
        response = redirect(view, "/ui/signin?note=signed-out")
        clear_session(response)
        return response
    return redirect(view, "/ui/account?note=ended")

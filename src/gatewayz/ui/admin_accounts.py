"""Operators' pages on accounts: users (credits, roles, invitations), plans, coupons and the
audit log, each through the admin API and the permission it checks."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gatewayz.accounts import web_accounts
from gatewayz.accounts.users import AccountError
from gatewayz.settings import server_secret
from gatewayz.ui.api_client import Answer
from gatewayz.ui.render import page, redirect
from gatewayz.ui.signup_pages import public_base
from gatewayz.ui.visit import Refused, Visit, posted, visit

router = APIRouter(prefix="/admin")
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
AUDIT_FILTERS = ("event", "actor_user_id", "target_type", "target_id")
NOTES = {
    "credits": "The credits are changed.",
    "role": "The role is changed.",
    "plan": "The plan is created.",
    "coupon": "The coupon is created.",
    "disabled": "The coupon is disabled.",
}
INVITE_PERMISSION = "users:write"  # as for creating a user with POST /admin/users


def _or_refuse(answer: Answer) -> Any:
    if not answer.ok:
        raise Refused(answer.status, answer.error)
    return answer.body


@router.get("/users")
async def users(view: Viewing, q: str = "", offset: int = 0) -> Response:
    return await _users_page(view, q, offset)


async def _users_page(
    view: Visit, q: str = "", offset: int = 0, status: int = 200, **extra: Any
) -> Response:
    found = await view.client().get("/admin/users", q=q or None, limit=50, offset=max(offset, 0))
    listing = _or_refuse(found)
    return page(
        view,
        "admin/users.html",
        status,
        title="Users",
        listing=listing,
        q=q,
        can_invite=INVITE_PERMISSION in view.permissions,
        signup=view.services.settings.accounts.signup,
        notes=NOTES,
        **extra,
    )


@router.get("/users/{user_id}")
async def user(view: Viewing, user_id: int) -> Response:
    return await _user_page(view, user_id)


async def _user_page(view: Visit, user_id: int, status: int = 200, error: str = "") -> Response:
    api = view.client()
    found = _or_refuse(await api.get(f"/admin/users/{user_id}"))
    roles = await api.get("/admin/roles")
    names = [r["name"] for r in roles.body["roles"]] if roles.ok else [found["role"]]
    return page(
        view,
        "admin/user.html",
        status,
        title=found["email"],
        error=error,
        user=found,
        roles=names,
        can_adjust="credits:adjust" in view.permissions,
        can_assign="roles:manage" in view.permissions,
        notes=NOTES,
    )


@router.post("/users/{user_id}/credits")
async def adjust(view: Posting, user_id: int) -> Response:
    """POST /admin/users/{id}/credits: add (or, negative, remove) credits with a reason."""
    body = {"amount": view.field("amount"), "reason": view.field("reason")}
    if view.field("idempotency_key"):
        body["idempotency_key"] = view.field("idempotency_key")
    done = await view.client().post(f"/admin/users/{user_id}/credits", body)
    if not done.ok:
        return await _user_page(view, user_id, done.status, done.error)
    return redirect(view, f"/ui/admin/users/{user_id}?note=credits")


@router.post("/users/{user_id}/role")
async def assign_role(view: Posting, user_id: int) -> Response:
    done = await view.client().call(
        "PUT", f"/admin/users/{user_id}/role", {"role": view.field("role")}
    )
    if not done.ok:
        return await _user_page(view, user_id, done.status, done.error)
    return redirect(view, f"/ui/admin/users/{user_id}?note=role")


@router.post("/invites")
async def invite(view: Posting) -> Response:
    """An invitation to sign up (mailed when an email is given); its link is shown once."""
    session, _ = view.current()
    if INVITE_PERMISSION not in view.permissions:
        raise Refused(403, f"Inviting users needs the '{INVITE_PERMISSION}' permission.")
    settings = view.services.settings.accounts
    email = view.field("email") or None
    try:
        token = await web_accounts.invite(
            view.services.engine,
            server_secret(view.services.settings),
            session.user_id,
            email,
            timedelta(days=settings.invite_days),
            datetime.now(UTC),
        )
    except AccountError as exc:
        return await _users_page(view, status=400, error=str(exc))
    link = f"{public_base(view)}/ui/signup?invite={token}"
    if email:
        await view.services.notifier.notify(
            "invitation",
            recipient=email.lower(),
            user_id=None,
            dedupe_key=f"invitation:{token[:16]}",
            link=link,
            days=int(settings.invite_days),
        )
    return await _users_page(view, invite_link=link)


@router.get("/plans")
async def plans(view: Viewing) -> Response:
    return await _plans_page(view)


async def _plans_page(view: Visit, status: int = 200, error: str = "") -> Response:
    listing = _or_refuse(await view.client().get("/admin/plans"))
    return page(
        view,
        "admin/plans.html",
        status,
        title="Plans",
        plans=listing["data"],
        error=error,
        notes=NOTES,
    )


@router.post("/plans")
async def create_plan(view: Posting) -> Response:
    body: dict[str, Any] = {
        "name": view.field("name"),
        "allowance": view.field("allowance") or "0",
        "period_days": _int(view.field("period_days") or "30"),
    }
    if view.field("description"):
        body["description"] = view.field("description")
    for name in ("rpm", "rpd", "tpm", "concurrency"):
        if view.field(name):
            body[name] = _int(view.field(name))
    done = await view.client().post("/admin/plans", body)
    if not done.ok:
        return await _plans_page(view, done.status, done.error)
    return redirect(view, "/ui/admin/plans?note=plan")


@router.get("/coupons")
async def coupons(view: Viewing) -> Response:
    return await _coupons_page(view)


async def _coupons_page(view: Visit, status: int = 200, error: str = "") -> Response:
    listing = _or_refuse(await view.client().get("/admin/coupons"))
    return page(
        view,
        "admin/coupons.html",
        status,
        title="Coupons",
        coupons=listing["data"],
        error=error,
        notes=NOTES,
    )


@router.post("/coupons")
async def create_coupon(view: Posting) -> Response:
    kind = "bonus" if view.field("kind") == "bonus" else "credits"
    body: dict[str, Any] = {"code": view.field("code"), "kind": kind}
    if kind == "credits":
        body["credits"] = view.field("credits") or None
    else:
        body["percent"] = _int(view.field("percent") or "0")
    if view.field("max_redemptions"):
        body["max_redemptions"] = _int(view.field("max_redemptions"))
    if view.field("expires_at"):
        body["expires_at"] = view.field("expires_at")
    done = await view.client().post("/admin/coupons", body)
    if not done.ok:
        return await _coupons_page(view, done.status, done.error)
    return redirect(view, "/ui/admin/coupons?note=coupon")


@router.post("/coupons/{code}/disable")
async def disable_coupon(view: Posting, code: str) -> Response:
    done = await view.client().call("DELETE", f"/admin/coupons/{code}")
    if not done.ok:
        return await _coupons_page(view, done.status, done.error)
    return redirect(view, "/ui/admin/coupons?note=disabled")


@router.get("/audit")
async def audit_log(view: Viewing, before_id: int | None = None) -> Response:
    query = view.request.query_params
    filters = {name: query.get(name, "").strip() for name in AUDIT_FILTERS}
    found = await view.client().get("/admin/audit-logs", limit=100, before_id=before_id, **filters)
    if found.status == 403:
        raise Refused(found.status, found.error)
    return page(
        view,
        "admin/audit.html",
        found.status,
        title="Audit log",
        error=found.error,
        entries=found.body["data"] if found.ok else [],
        next_before_id=found.body.get("next_before_id") if found.ok else None,
        filters=filters,
    )


def _int(text: str) -> int | str:
    """An integer, or the text as typed (the API then names the field that is wrong)."""
    return int(text) if text.isdigit() else text

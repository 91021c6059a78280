"""Signing in and out: email and password, or an API key pasted once."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gatewayz.accounts import audit, key_store, passwords
from gatewayz.accounts.key_bounds import Bounds
from gatewayz.errors import AuthenticationFailed
from gatewayz.ui.render import clear_session, page, redirect, set_cookie
from gatewayz.ui.visit import SESSION_COOKIE, Visit, posted, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
TOO_MANY = "Too many failed sign-ins: wait a few minutes and try again."
NOTES = {
    "signed-out": "You are signed out.",
    "reset": "Your password is set. Sign in with it.",
    "reset-sent": "If an account has that email, a link to set a new password is on its way.",
}


def next_page(target: str | None) -> str:
    """Where to go after signing in: a dashboard path, never another site."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/"


@router.get("/signin")
async def signin_form(view: Viewing) -> Response:
    if view.session is not None:
        return redirect(view, next_page(view.request.query_params.get("next")))
    return _form(view)


def _form(view: Visit, status: int = 200, error: str = "", email: str = "") -> Response:
    settings = view.services.settings.accounts
    return page(
        view,
        "signin.html",
        status,
        title="Sign in",
        error=error,
        email=email,
        next=next_page(view.request.query_params.get("next") or view.field("next")),
        signup=settings.signup,
        notes=NOTES,
    )


@router.post("/signin")
async def signin(view: Posting) -> Response:
    """Email and password; a failure is audited, and too many in a row are refused."""
    request = view.request
    email = view.field("email")
    password = str(view.form.get("password") or "") if view.form else ""
    address = audit.source_ip(request)
    guard = view.services.signin_guard
    if await guard.blocked(email, address):
        return _form(view, 429, TOO_MANY, email)
    user_id, reason = await passwords.sign_in(view.services.engine, email, password)
    if user_id is None:
        await guard.failed(email, address, reason)
        return _form(view, 401, "Wrong email or password.", email)
    return await signed_in(view, user_id, "password")


@router.post("/signin/key")
async def signin_with_key(view: Posting) -> Response:
    """An API key with no restriction signs its user in; the key itself is not kept."""
    request = view.request
    presented = view.field("api_key")
    address = audit.source_ip(request)
    guard = view.services.signin_guard
    if await guard.blocked(None, address):
        return _form(view, 429, TOO_MANY)
    try:
        principal = await view.services.authenticator.authenticate(presented)
    except AuthenticationFailed:
        view.services.failed_logins.failed(request, presented)
        await guard.failed(None, address, "invalid key")
        return _form(view, 401, "That API key is not valid.")
    record = await key_store.get_record(view.services.engine, principal.user_id, principal.key_id)
    if principal.policy.rotated or record.replaced_by is not None or Bounds.of(record) != Bounds():
        return _form(
            view,
            403,
            "That key has restrictions, so it cannot open the dashboard. Sign in with your "
            "password or with a key without restrictions.",
        )
    return await signed_in(view, principal.user_id, "api_key")


async def signed_in(view: Visit, user_id: int, method: str) -> Response:
    """Open a session for the user and go on to the page they wanted."""
    try:
        token = await open_session(view, user_id, method)
    except key_store.KeyStateError as exc:  # the account holds the most keys allowed
        return _form(view, 409, f"{exc} Revoke one with the API to sign in here.")
    return session_redirect(view, token)


async def open_session(view: Visit, user_id: int, method: str) -> str:
    """A new session for the user from this browser; its token."""
    request = view.request
    return await view.services.web_sessions.open(
        user_id, method, audit.source_ip(request), request.headers.get("user-agent")
    )


def session_redirect(view: Visit, token: str) -> Response:
    """Set the session cookie and go on to the page the visitor wanted."""
    response = redirect(view, next_page(view.field("next")))
    hours = view.services.settings.accounts.session_hours
    seconds = int(timedelta(hours=hours).total_seconds())
    set_cookie(view, response, SESSION_COOKIE, token, seconds)
    return response


@router.post("/signout")
async def signout(view: Posting) -> Response:
    """End this browser's session and revoke its key."""
    request = view.request
    if view.session is not None:
        ended = await view.services.web_sessions.end(
            view.session.user_id, view.session.id, audit.source_ip(request)
        )
        for key_id in ended:
            view.services.authenticator.forget(key_id)
    response = redirect(view, "/ui/signin?note=signed-out")
    clear_session(response)
    return response

"""Creating an account (when `accounts.signup` allows it) and setting a forgotten password
through a mailed link."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts import audit, passwords, web_accounts
from gatewayz.accounts.signin_guard import SignInGuard
from gatewayz.accounts.users import AccountError
from gatewayz.errors import GatewayError
from gatewayz.settings import server_secret
from gatewayz.ui.api_client import ApiClient
from gatewayz.ui.auth_pages import open_session, session_redirect
from gatewayz.ui.render import page, redirect
from gatewayz.ui.visit import Visit, posted, sessions, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
SIGNUPS_PER_ADDRESS = 5  # per sign-in window
RESETS_PER_ADDRESS = 10
RESET_MAIL_SECONDS = 900  # one reset mail per user per quarter hour at most


def _guard(request: Request) -> SignInGuard:
    guard: SignInGuard = request.app.state.signin_guard
    return guard


def public_base(request: Request) -> str:
    """The gateway's address for links in mails: `accounts.public_url`, else this request's."""
    configured = request.app.state.settings.accounts.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _signup_page(view: Visit, status: int = 200, error: str = "", **values: str) -> Response:
    request = view.request
    mode = request.app.state.settings.accounts.signup
    invite = values.get("invite") or request.query_params.get("invite", "")
    ref = values.get("ref") or request.query_params.get("ref", "")
    return page(
        view,
        "signup.html",
        status,
        title="Create an account",
        error=error,
        mode=mode,
        invite=invite,
        ref=ref,
        email=values.get("email", ""),
        min_length=request.app.state.settings.accounts.min_password_length,
        trial=request.app.state.settings.trial,
    )


@router.get("/signup")
async def signup_form(view: Viewing) -> Response:
    return _signup_page(view)


@router.post("/signup")
async def signup(view: Posting) -> Response:
    """A new account with a password; the free trial starts and a referral code is applied
    through the API, as the new user."""
    request = view.request
    settings = request.app.state.settings
    mode = settings.accounts.signup
    values = {name: view.field(name) for name in ("email", "invite", "ref")}
    if mode == "closed" or (mode == "invite" and not values["invite"]):
        return _signup_page(view, 403, "Sign-up is not open on this gateway.", **values)
    address = audit.source_ip(request)
    if await _guard(request).too_many("user.signed_up", address, SIGNUPS_PER_ADDRESS):
        return _signup_page(view, 429, "Too many accounts from this address; try later.", **values)
    password = str(view.form.get("password") or "") if view.form else ""
    try:
        passwords.check_strength(password, settings.accounts.min_password_length)
        user_id = await web_accounts.sign_up(
            request.app.state.engine,
            server_secret(settings),
            values["email"],
            await passwords.hash_password(password),
            invite=values["invite"] if mode == "invite" else None,
            now=datetime.now(UTC),
            source_ip=address,
        )
    except (AccountError, GatewayError) as exc:
        return _signup_page(view, 400, _message(exc), **values)
    token = await open_session(view, user_id, "signup")
    found = await sessions(request).find(token)
    if found is not None:
        await _welcome(ApiClient(request, found.api_key), settings.trial.enabled, values["ref"])
    return session_redirect(view, token)


async def _welcome(api: ApiClient, trial: bool, ref: str) -> None:
    """Start the free trial and record the referrer, through the API as the new user."""
    if trial:
        await api.post("/user/trial")
    if ref:
        await api.post("/user/referral", {"code": ref})


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, GatewayError) else str(exc)


@router.get("/forgot")
async def forgot_form(view: Viewing) -> Response:
    return page(view, "forgot.html", title="Forgot your password")


@router.post("/forgot")
async def forgot(view: Posting) -> Response:
    """Mail a reset link, if the account exists; the answer is the same either way."""
    request = view.request
    state = request.app.state
    address = audit.source_ip(request)
    if await _guard(request).too_many("auth.reset_requested", address, RESETS_PER_ADDRESS):
        return page(
            view,
            "forgot.html",
            429,
            title="Forgot your password",
            error="Too many requests from this address; try later.",
        )
    settings = state.settings.accounts
    now = datetime.now(UTC)
    started = await web_accounts.start_reset(
        state.engine,
        server_secret(state.settings),
        view.field("email"),
        timedelta(minutes=settings.reset_minutes),
        now,
    )
    async with state.engine.begin() as conn:
        await audit.record(
            conn,
            audit.AuditEvent(
                "auth.reset_requested",
                source_ip=address,
                target_type="user",
                target_id=str(started[0]) if started else None,
            ),
        )
    if started is not None:
        user_id, token = started
        await state.notifier.notify(
            "password_reset",
            recipient=view.field("email").lower(),
            user_id=user_id,
            dedupe_key=f"password_reset:{user_id}:{int(now.timestamp()) // RESET_MAIL_SECONDS}",
            link=f"{public_base(request)}/ui/reset/{token}",
            minutes=int(settings.reset_minutes),
        )
    return redirect(view, "/ui/signin?note=reset-sent")


@router.get("/reset/{token}")
async def reset_form(view: Viewing, token: str) -> Response:
    state = view.request.app.state
    try:
        await web_accounts.reset_user(
            state.engine, server_secret(state.settings), token, datetime.now(UTC)
        )
    except AccountError as exc:
        return page(view, "reset.html", 400, title="Set a new password", error=str(exc))
    return page(
        view,
        "reset.html",
        title="Set a new password",
        token=token,
        min_length=state.settings.accounts.min_password_length,
    )


@router.post("/reset/{token}")
async def reset(view: Posting, token: str) -> Response:
    """Set the new password, then end every session of the account."""
    request = view.request
    state = request.app.state
    password = str(view.form.get("password") or "") if view.form else ""
    address = audit.source_ip(request)
    try:
        passwords.check_strength(password, state.settings.accounts.min_password_length)
        user_id = await web_accounts.finish_reset(
            state.engine,
            server_secret(state.settings),
            token,
            await passwords.hash_password(password),
            datetime.now(UTC),
            address,
        )
    except AccountError as exc:
        return page(
            view,
            "reset.html",
            400,
            title="Set a new password",
            error=str(exc),
            token=token,
            min_length=state.settings.accounts.min_password_length,
        )
    for key_id in await sessions(request).end_all(user_id, address):
        state.authenticator.forget(key_id)
    return redirect(view, "/ui/signin?note=reset")

"""Creating an account (when `accounts.signup` allows it) and setting a forgotten password
through a mailed link."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gatewayz.accounts import audit, passwords, web_accounts
from gatewayz.accounts.users import AccountError
from gatewayz.errors import GatewayError
from gatewayz.settings import server_secret
from gatewayz.ui.api_client import ApiClient
from gatewayz.ui.auth_pages import open_session, session_redirect
from gatewayz.ui.render import page, redirect
from gatewayz.ui.visit import Visit, posted, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
SIGNUPS_PER_ADDRESS = 5  # per sign-in window
RESETS_PER_ADDRESS = 10
RESET_MAIL_SECONDS = 900  # one reset mail per user per quarter hour at most


def public_base(view: Visit) -> str:
    """The gateway's address for links in mails: `accounts.public_url`, else this request's."""
    configured = view.services.settings.accounts.public_url
    return (configured or str(view.request.base_url)).rstrip("/")


def _signup_page(view: Visit, status: int = 200, error: str = "", **values: str) -> Response:
    request = view.request
    mode = view.services.settings.accounts.signup
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
        min_length=view.services.settings.accounts.min_password_length,
        trial=view.services.settings.trial,
    )


@router.get("/signup")
async def signup_form(view: Viewing) -> Response:
    return _signup_page(view)


@router.post("/signup")
async def signup(view: Posting) -> Response:
    """A new account with a password; the free trial starts and a referral code is applied
    through the API, as the new user."""
    request = view.request
    settings = view.services.settings
    mode = settings.accounts.signup
    values = {name: view.field(name) for name in ("email", "invite", "ref")}
    if mode == "closed" or (mode == "invite" and not values["invite"]):
        return _signup_page(view, 403, "Sign-up is not open on this gateway.", **values)
    address = audit.source_ip(request)
    if await view.services.signin_guard.too_many("user.signed_up", address, SIGNUPS_PER_ADDRESS):
        return _signup_page(view, 429, "Too many accounts from this address; try later.", **values)
    password = str(view.form.get("password") or "") if view.form else ""
    try:
        passwords.check_strength(password, settings.accounts.min_password_length)
        user_id = await web_accounts.sign_up(
            view.services.engine,
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
    found = await view.services.web_sessions.find(token)
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
    address = audit.source_ip(request)
    if await view.services.signin_guard.too_many(
        "auth.reset_requested", address, RESETS_PER_ADDRESS
    ):
        return page(
            view,
            "forgot.html",
            429,
            title="Forgot your password",
            error="Too many requests from this address; try later.",
        )
    settings = view.services.settings.accounts
    now = datetime.now(UTC)
    started = await web_accounts.start_reset(
        view.services.engine,
        server_secret(view.services.settings),
        view.field("email"),
        timedelta(minutes=settings.reset_minutes),
        now,
    )
    async with view.services.engine.begin() as conn:
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
        await view.services.notifier.notify(
            "password_reset",
            recipient=view.field("email").lower(),
            user_id=user_id,
            dedupe_key=f"password_reset:{user_id}:{int(now.timestamp()) // RESET_MAIL_SECONDS}",
            link=f"{public_base(view)}/ui/reset/{token}",
            minutes=int(settings.reset_minutes),
        )
    return redirect(view, "/ui/signin?note=reset-sent")


@router.get("/reset/{token}")
async def reset_form(view: Viewing, token: str) -> Response:
    try:
        await web_accounts.reset_user(
            view.services.engine, server_secret(view.services.settings), token, datetime.now(UTC)
        )
    except AccountError as exc:
        return page(view, "reset.html", 400, title="Set a new password", error=str(exc))
    return page(
        view,
        "reset.html",
        title="Set a new password",
        token=token,
        min_length=view.services.settings.accounts.min_password_length,
    )


@router.post("/reset/{token}")
async def reset(view: Posting, token: str) -> Response:
    """Set the new password, then end every session of the account."""
    request = view.request
    password = str(view.form.get("password") or "") if view.form else ""
    address = audit.source_ip(request)
    try:
        passwords.check_strength(password, view.services.settings.accounts.min_password_length)
        user_id = await web_accounts.finish_reset(
            view.services.engine,
            server_secret(view.services.settings),
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
            min_length=view.services.settings.accounts.min_password_length,
        )
    for key_id in await view.services.web_sessions.end_all(user_id, address):
        view.services.authenticator.forget(key_id)
    return redirect(view, "/ui/signin?note=reset")

"""Pages as HTML: the templates, the layout's navigation, cookies and security headers."""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from gatewayz.ui.visit import COOKIE_PATH, SESSION_COOKIE, VISITOR_COOKIE, Visit

HERE = Path(__file__).parent
# No request leaves for another host: scripts, styles and pictures come from the gateway.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
# (path, label, permission needed or None)
USER_NAV = (
    ("/ui/", "Overview", None),
    ("/ui/usage", "Usage", None),
    ("/ui/keys", "API keys", None),
    ("/ui/credits", "Credits", None),
    ("/ui/referral", "Referrals", None),
    ("/ui/history", "Chat history", None),
    ("/ui/playground", "Playground", None),
    ("/ui/models", "Models", None),
    ("/ui/account", "Account", None),
)
ADMIN_NAV = (
    ("/ui/admin/providers", "Providers", "monitoring:read"),
    ("/ui/admin/traffic", "Traffic", "monitoring:read"),
    ("/ui/admin/requests", "Request log", "monitoring:read"),
    ("/ui/admin/users", "Users", "users:read"),
    ("/ui/admin/plans", "Plans", "plans:manage"),
    ("/ui/admin/coupons", "Coupons", "coupons:manage"),
    ("/ui/admin/audit", "Audit log", "audit:read"),
)


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["when"] = when
    templates.env.filters["credits"] = credits
    templates.env.filters["percent"] = percent
    return templates


def when(value: str | None) -> str:
    """An API time as `2026-11-01 12:00 UTC`."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def credits(value: str | None) -> str:
    """A credit amount as the API gives it, with at least two decimals: `$0.000046`."""
    if value is None:
        return "—"
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return value
    sign = "-" if amount < 0 else ""
    text = format(abs(amount), "f")
    whole, _, fraction = text.partition(".")
    return f"{sign}${whole}.{(fraction.rstrip('0') or '').ljust(2, '0')}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def page(visit: Visit, template: str, status: int = 200, **context: Any) -> Response:
    """The page `template` for this visit, with the layout's navigation."""
    request = visit.request
    allowed = visit.permissions
    response = visit.services.templates.TemplateResponse(
        request,
        template,
        {
            "visit": visit,
            "profile": visit.profile,
            "csrf": visit.csrf,
            "user_nav": USER_NAV if visit.session else (),
            "admin_nav": [item for item in ADMIN_NAV if item[2] in allowed],
            "current": request.url.path,
            "note": request.query_params.get("note", ""),
            **context,
        },
        status_code=status,
    )
    return finish(visit, response)


def finish(visit: Visit, response: Response) -> Response:
    """Add the security headers, and the visitor cookie of a first visit."""
    response.headers.update(SECURITY_HEADERS)
    if visit.new_visitor is not None:
        set_cookie(visit, response, VISITOR_COOKIE, visit.new_visitor, None)
    return response


def redirect(visit: Visit, location: str) -> Response:
    return finish(visit, RedirectResponse(location, status_code=303))


def set_cookie(
    visit: Visit, response: Response, name: str, value: str, max_age: int | None
) -> None:
    """An HttpOnly, SameSite=Lax cookie for the dashboard's paths only (Secure over https, or
    when `accounts.secure_cookies` says so)."""
    secure = visit.services.settings.accounts.secure_cookies
    if secure is None:
        secure = visit.request.url.scheme == "https"
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)

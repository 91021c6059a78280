"""Who is looking at a page: the browser's session (if signed in), its CSRF token, and an
API client acting through the session's key. Form posts are checked for their CSRF token."""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from starlette.datastructures import FormData

from gatewayz.accounts.web_sessions import WebSession
from gatewayz.accounts.web_tokens import new_token
from gatewayz.api.deps import ServicesDep
from gatewayz.app_services import Services
from gatewayz.settings import server_secret
from gatewayz.ui.api_client import ApiClient
from gatewayz.ui.csrf import csrf_token, csrf_valid

SESSION_COOKIE = "gatewayz_session"
VISITOR_COOKIE = "gatewayz_visitor"
COOKIE_PATH = "/ui"


class Redirect(Exception):
    """Answer with a redirect to `location` (e.g. to the sign-in page)."""

    def __init__(self, location: str) -> None:
        self.location = location


class Refused(Exception):
    """Answer with an error page: `status` and a message for the visitor."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


@dataclass
class Visit:
    """One page view or form post."""

    request: Request
    services: Services
    secret: bytes
    anchor: str
    new_visitor: str | None = None
    session: WebSession | None = None
    api: ApiClient | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    form: FormData | None = None

    @property
    def csrf(self) -> str:
        return csrf_token(self.secret, self.anchor)

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(self.profile.get("permissions", ()))

    def field(self, name: str) -> str:
        """A form field, stripped ('' when absent)."""
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""

    def fields(self, name: str) -> list[str]:
        """Every value of a repeated form field (checkboxes)."""
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def client(self) -> ApiClient:
        """The API as the signed-in user; a redirect to the sign-in page (and back) when the
        visitor is not signed in."""
        return self.current()[1]

    def current(self) -> tuple[WebSession, ApiClient]:
        """The session and its API client, or a redirect to the sign-in page and back."""
        if self.session is None or self.api is None:
            target = self.request.url.path
            raise Redirect(f"/ui/signin?next={quote(target)}")
        return self.session, self.api


async def visit(request: Request, services: ServicesDep) -> Visit:
    """FastAPI dependency: the visit, signed in when its session cookie is valid."""
    secret = server_secret(services.settings)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await services.web_sessions.find(token)
        if found is not None:
            api = ApiClient(request, found.api_key)
            profile = await api.get("/user/profile")
            if profile.ok:
                return Visit(request, services, secret, token, None, found, api, profile.body)
    visitor = request.cookies.get(VISITOR_COOKIE)
    if visitor and 20 <= len(visitor) <= 100:
        return Visit(request, services, secret, visitor)
    fresh = new_token()
    return Visit(request, services, secret, fresh, new_visitor=fresh)


async def posted(request: Request, services: ServicesDep) -> Visit:
    """FastAPI dependency for form posts: the visit, with its form, once its CSRF token (form
    field `csrf_token` or header `x-csrf-token`) and its origin are checked."""
    found = await visit(request, services)
    if not _same_origin(request):
        raise Refused(403, "This form was sent from another site.")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        found.form = await request.form()
    presented = request.headers.get("x-csrf-token") or found.field("csrf_token")
    if found.new_visitor is not None or not csrf_valid(found.secret, found.anchor, presented):
        raise Refused(
            403,
            "This form has expired or did not come from this site: reload the "
            "page and send it again.",
        )
    return found


def _same_origin(request: Request) -> bool:
    """Whether the Origin (else Referer) header, when the browser sent one, is this host."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source != "null"
    return urlsplit(source).netloc == request.headers.get("host", "")

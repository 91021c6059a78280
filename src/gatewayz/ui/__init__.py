"""The web dashboard under /ui: server-rendered pages that read and change everything
through the gateway's own API (see ui.api_client), plus a little script for the playground,
the theme and copying secrets. Static files ship in the package; nothing is fetched from
another host."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse, Response

from gatewayz.api.deps import app_services
from gatewayz.ui import (
    admin_accounts,
    admin_pages,
    auth_pages,
    catalog_pages,
    chat_pages,
    key_pages,
    money_pages,
    signup_pages,
    user_pages,
)
from gatewayz.ui.render import HERE, SECURITY_HEADERS, page
from gatewayz.ui.visit import Redirect, Refused, visit

PREFIX = "/ui"


def install(app: FastAPI) -> None:
    """Serve the dashboard from `app` under /ui."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in (
        auth_pages,
        signup_pages,
        user_pages,
        key_pages,
        money_pages,
        chat_pages,
        catalog_pages,
        admin_pages,
        admin_accounts,
    ):
        router.include_router(module.router)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(Refused, _refused)

    @app.get(PREFIX, include_in_schema=False)
    async def ui_root() -> Response:
        return Response(status_code=307, headers={"location": f"{PREFIX}/"})


async def _redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Redirect)
    return Response(status_code=303, headers={"location": exc.location, **SECURITY_HEADERS})


async def _refused(request: Request, exc: Exception) -> Response:
    """An error page (JSON for the playground's script)."""
    assert isinstance(exc, Refused)
    if request.headers.get("x-csrf-token") is not None or "json" in request.headers.get(
        "content-type", ""
    ):
        body = {"error": {"message": exc.message, "type": "dashboard_error"}}
        return JSONResponse(body, exc.status, headers=SECURITY_HEADERS)
    view = await visit(request, app_services(request))
    return page(view, "refused.html", exc.status, title="Not possible", message=exc.message)

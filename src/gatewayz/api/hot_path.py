"""The model calls served straight to their endpoint, past FastAPI's router and dependencies.

The routes that serve model calls (chat, messages, responses, completions, embeddings,
images) take only the request and the authenticated caller, whom the authenticate-first
middleware has already found before anything read the body. So once a request for one of
them has passed the middleware that every request needs (request id and telemetry, the body
limit, authentication, prompt logging), this layer calls the endpoint itself and renders
what it raises the way the app's exception handlers would, in the caller's format; the
router, FastAPI's dependency solving and the exception middleware are skipped. The routes
stay registered with FastAPI, so the OpenAPI schema lists them and the router serves them if
this layer is not installed.
"""

from collections.abc import Awaitable, Callable, Iterable

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gatewayz.accounts.auth import PRINCIPAL_SCOPE_KEY, Principal, current_principal
from gatewayz.errors import error_response

Endpoint = Callable[..., Awaitable[Response]]


class HotRoutes:
    """The routes served on the hot path, each as a call of (request, caller); ValueError,
    when the app is built, for a route whose endpoint takes anything more."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._endpoints = {
            id(route): _endpoint(route) for route in routes if isinstance(route, APIRoute)
        }

    def endpoint(self, scope: Scope) -> Endpoint | None:
        """The endpoint of the request's route (put in the scope by the authenticate-first
        middleware), if the route is a hot one."""
        return self._endpoints.get(id(scope.get("route")))


class HotPath:
    """Serves the hot routes' requests by calling their endpoints directly."""

    def __init__(self, app: ASGIApp, routes: HotRoutes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.endpoint(scope) if scope["type"] == "http" else None
        principal: Principal | None = scope.get(PRINCIPAL_SCOPE_KEY)
        if endpoint is None or principal is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request, principal)
        except Exception as exc:  # as the app's exception handlers render it
            response = error_response(request, exc)
        await response(scope, receive, send)


def _endpoint(route: APIRoute) -> Endpoint:
    """`route`'s endpoint as a call of (request, principal); ValueError if it takes more."""
    dependant = route.dependant
    deps = dependant.dependencies
    extra = (
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or route.dependencies
    )
    if (
        extra
        or dependant.request_param_name is None
        or len(deps) != 1
        or deps[0].call is not current_principal
        or deps[0].name is None
    ):
        raise ValueError(f"{route.path} takes more than the request and the caller")
    request_name, principal_name, call = dependant.request_param_name, deps[0].name, route.endpoint

    async def endpoint(request: Request, principal: Principal) -> Response:
        response: Response = await call(**{request_name: request, principal_name: principal})
        return response

    return endpoint

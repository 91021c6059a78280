"""Authenticates a request from its headers before anything reads its body.

FastAPI reads and parses a route's pydantic body before it resolves the route's
dependencies, so a request without a valid key could make the gateway receive and parse a
body only to refuse it. This middleware finds the route a request is for and, when the route
needs a key, runs the one authentication there is (`accounts.auth.identify`: the cached
Authenticator, refused keys included) first: a refusal (401, or 403 for a key restriction)
is answered unread; an accepted caller is kept in the scope, where `current_principal` finds
it. Routes without a key (the public catalog, health, the Stripe webhook) pass untouched.
"""

import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from gatewayz.accounts.auth import Principal, identify
from gatewayz.api.early_answer import answer_early
from gatewayz.errors import GatewayError


class KeyedRoutes:
    """The app's routes, and for a request the one it is for if that route needs a key: a
    route needs one when a dependency of it gives the caller's `Principal`."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = [route for route in routes if isinstance(route, APIRoute)]
        self._keyed = {id(route) for route in self._routes if _needs_key(route.dependant)}
        # Paths without parameters, the hot ones, are looked up once here.
        self._fixed: dict[tuple[str, str], APIRoute | None] = {}
        for route in self._routes:
            if not route.param_convertors:
                for method in route.methods or ():
                    scope = {"type": "http", "path": route.path, "method": method}
                    self._fixed.setdefault((method, route.path), self._scan(scope))

    def needing_key(self, scope: Scope) -> APIRoute | None:
        """The route of the request if it needs a key, else None (also for no route)."""
        fixed = (scope["method"], scope["path"])
        if fixed in self._fixed:
            return self._fixed[fixed]
        return self._scan(scope)

    def _scan(self, scope: Scope) -> APIRoute | None:
        """As the router does: the first route matching both path and method."""
        for route in self._routes:
            if route.matches(scope)[0] is Match.FULL:
                return route if id(route) in self._keyed else None
        return None


def _needs_key(dependant: Dependant) -> bool:
    return any(_gives_principal(sub.call) or _needs_key(sub) for sub in dependant.dependencies)


def _gives_principal(call: Callable[..., Any] | None) -> bool:
    if not inspect.isfunction(call):
        return False
    return typing.get_type_hints(call).get("return") is Principal


class AuthenticateFirstMiddleware:
    def __init__(self, app: ASGIApp, routes: KeyedRoutes) -> None:
        self.app = app
        self.routes = routes  # which requests it authenticates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.needing_key(scope) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # so that a refused request is counted under its route
        try:
            await identify(Request(scope))
        except GatewayError as refused:
            await answer_early(refused, scope, receive, send)
            return
        await self.app(scope, receive, send)

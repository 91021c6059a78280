"""Every admin endpoint checks its permission: found by walking the app's routes, so
endpoints added later are covered without being listed here."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from gatewayz.accounts.roles import PERMISSIONS
from gatewayz.app import create_app
from gatewayz.settings import Settings
from tests.api.admin_support import Site, error_of, site  # noqa: F401
from tests.conftest import SECRET, gateway_settings
from tests.fakes.openai_upstream import FakeOpenAIUpstream

ADMIN_PREFIXES = ("/admin/", "/api/monitoring/")
WRITES = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Guarded:
    method: str
    path: str
    permissions: frozenset[str]

    @property
    def url(self) -> str:
        """The path with a placeholder in each path parameter."""
        return re.sub(r"\{[^}]+\}", "1", self.path)


def _permissions(dependant: Dependant) -> set[str]:
    """The permissions that `require_permission` dependencies anywhere below demand."""
    found: set[str] = set()
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, "permission", None)
        if permission is not None:
            found.add(permission)
        found |= _permissions(dependency)
    return found


def _routes(app: FastAPI) -> Iterator[tuple[str, str, set[str]]]:
    """(method, path, permissions) of every HTTP endpoint of the app."""
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                permissions = _permissions(dependant) if dependant is not None else set()
                yield method, route.path, permissions


def _app(tmp_path: Path) -> FastAPI:
    url = f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}"
    return create_app(Settings(database_url=url, secret=SECRET, environ={}))


def guarded_routes(app: FastAPI) -> list[Guarded]:
    return [
        Guarded(method, path, frozenset(permissions))
        for method, path, permissions in _routes(app)
        if permissions
    ]


def test_every_admin_route_declares_a_known_permission(tmp_path: Path) -> None:
    app = _app(tmp_path)
    unguarded = [
        f"{method} {path}"
        for method, path, permissions in _routes(app)
        if path.startswith(ADMIN_PREFIXES) and not permissions
    ]
    assert unguarded == []
    guarded = guarded_routes(app)
    assert {"/admin/users", "/admin/audit-logs", "/api/monitoring/stats/realtime"} <= {
        g.path for g in guarded
    }, "the walk finds the admin routes"
    assert all(g.permissions <= PERMISSIONS.keys() for g in guarded)


async def _call(client: httpx.AsyncClient, route: Guarded, **options: Any) -> httpx.Response:
    body = {"json": {}} if route.method in WRITES else {}
    return await client.request(route.method, route.url, **body, **options)


async def test_each_admin_route_refuses_callers_without_its_permission(
    site: Site,  # noqa: F811
    database_url: str,
    upstream: FakeOpenAIUpstream,
) -> None:
    routes = guarded_routes(create_app(gateway_settings(database_url, upstream)))
    needed = sorted({g.permissions for g in routes}, key=sorted)
    exact: dict[frozenset[str], httpx.AsyncClient] = {}
    others: dict[frozenset[str], httpx.AsyncClient] = {}
    for i, permissions in enumerate(needed):
        _, exact[permissions] = await site.role_client(f"exact-{i}", permissions)
        _, others[permissions] = await site.role_client(
            f"all-but-{i}", set(PERMISSIONS) - permissions
        )
    for route in routes:
        name = f"{route.method} {route.path}"
        refused = await _call(site.user, route)
        assert refused.status_code == 403, name
        assert any(p in error_of(refused)["message"] for p in route.permissions), name
        assert (await _call(others[route.permissions], route)).status_code == 403, name
        anonymous = await _call(site.user, route, headers={"Authorization": ""})
        assert anonymous.status_code == 401, name
        allowed = await _call(exact[route.permissions], route)
        assert allowed.status_code not in (401, 403), (name, allowed.text)

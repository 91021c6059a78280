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
from sqlalchemy import func, select

from gatewayz.accounts.roles import PERMISSIONS
from gatewayz.app import create_app
from gatewayz.settings import Settings
from gatewayz.store.tables import coupons, ledger, subscriptions
from tests.api.admin_support import Site, bearer, error_of, site  # noqa: F401
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


async def test_without_credits_adjust_no_admin_path_adds_credits(
    site: Site,  # noqa: F811
) -> None:
    """A role with every other permission can reach each path that could add credits: the
    new user's starting credits, the credits endpoint, a plan with an allowance (assigned,
    raised or made more frequent), a coupon, and the trial of a user it created. Each is
    refused naming credits:adjust, and not one ledger row is written."""
    me, staff = await site.role_client("staff", set(PERMISSIONS) - {"credits:adjust"})
    gold = (await site.admin.post("/admin/plans", json={"name": "gold", "allowance": "100"})).json()
    free = await staff.post("/admin/plans", json={"name": "free", "allowance": "0"})
    assert free.status_code == 201, "a plan that grants nothing needs no credits:adjust"
    assert (await staff.put(f"/admin/users/{me}/plan", json={"plan": "free"})).status_code == 200
    made = await staff.post("/admin/users", json={"email": "made@example.com", "create_key": True})
    assert made.status_code == 201, made.text
    attempts = {
        "starting credits": await staff.post(
            "/admin/users", json={"email": "rich@example.com", "credits": "1000000"}
        ),
        "adjustment": await staff.post(
            f"/admin/users/{me}/credits", json={"amount": "1000000", "reason": "mine"}
        ),
        "assigning an allowance": await staff.put(f"/admin/users/{me}/plan", json={"plan": "gold"}),
        "raising an allowance": await staff.patch(
            f"/admin/plans/{free.json()['id']}", json={"allowance": "1000000"}
        ),
        "shortening a period": await staff.patch(
            f"/admin/plans/{gold['id']}", json={"period_days": 1}
        ),
        "credits coupon": await staff.post(
            "/admin/coupons", json={"code": "MINE", "kind": "credits", "credits": "1000"}
        ),
        "bonus coupon": await staff.post(
            "/admin/coupons", json={"code": "MORE", "kind": "bonus", "percent": 100}
        ),
    }
    async with httpx.AsyncClient(
        base_url=site.base_url, headers=bearer(made.json()["api_key"])
    ) as made_user:
        attempts["trial of a user it made"] = await made_user.post("/user/trial")
    for path, refused in attempts.items():
        assert refused.status_code == 403, (path, refused.text)
        assert "credits:adjust" in error_of(refused)["message"], path
    async with site.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ledger)) == 0
        assert await conn.scalar(select(func.count()).select_from(coupons)) == 0
        subscribed = (await conn.execute(select(subscriptions.c.user_id))).scalars().all()
    assert subscribed == [me]
    listed = {plan["name"]: plan for plan in (await site.admin.get("/admin/plans")).json()["data"]}
    assert (listed["free"]["allowance"], listed["gold"]["period_days"]) == ("0", 30)
    assert (await site.admin.get(f"/admin/users/{me}")).json()["credits"] == "0"

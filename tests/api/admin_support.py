"""A served gateway with an admin and a plain user, each with an httpx client of their key.

Import the `site` fixture into a test module to use it.
"""

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import roles
from gatewayz.accounts import users as accounts
from gatewayz.app_services import Services
from tests.conftest import SECRET, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Site:
    """A served gateway: `admin` and `user` are clients of the admin's and the user's keys."""

    base_url: str
    state: Services
    engine: AsyncEngine
    admin_id: int
    admin: httpx.AsyncClient
    user_id: int
    user: httpx.AsyncClient
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def client_with(self, email: str, *, role: str = "user") -> tuple[int, httpx.AsyncClient]:
        """A new user holding `role`, and a client of a key of theirs."""
        user = await accounts.create_user(self.engine, email, role=role)
        key = await accounts.create_key(self.engine, SECRET.encode(), user.id, "k")
        client = httpx.AsyncClient(base_url=self.base_url, headers=bearer(key), timeout=30)
        self._clients.append(client)
        return user.id, client

    async def role_client(
        self, name: str, permissions: Iterable[str]
    ) -> tuple[int, httpx.AsyncClient]:
        """A user holding a new custom role `name` that grants exactly `permissions`."""
        async with self.engine.begin() as conn:
            await roles.create_role(conn, name, None, permissions)
        return await self.client_with(f"{name}@example.com", role=name)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


@pytest.fixture
async def site(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Site]:
    admin = await accounts.create_user(engine, "root@example.com", role="admin")
    admin_key = await accounts.create_key(engine, SECRET.encode(), admin.id, "root")
    user = await accounts.create_user(engine, "plain@example.com")
    user_key = await accounts.create_key(engine, SECRET.encode(), user.id, "plain")
    async with (
        serve(gateway_settings(database_url, upstream)) as (base_url, state),
        httpx.AsyncClient(base_url=base_url, headers=bearer(admin_key), timeout=30) as admin_http,
        httpx.AsyncClient(base_url=base_url, headers=bearer(user_key), timeout=30) as user_http,
    ):
        found = Site(base_url, state, engine, admin.id, admin_http, user.id, user_http)
        try:
            yield found
        finally:
            await found.close()


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The OpenAI-style error object of a refused request."""
    body: dict[str, Any] = response.json()["error"]
    return body

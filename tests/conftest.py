"""Shared fixtures: real databases, a fake upstream, and a gateway served over real HTTP."""

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.app import create_app
from gatewayz.app_services import Services, services_of
from gatewayz.billing import ledger
from gatewayz.billing.money import credits_to_units
from gatewayz.settings import Settings
from gatewayz.store.engine import create_engine
from gatewayz.store.migrate import alembic_config, upgrade, upgrade_sync
from gatewayz.store.tables import metadata
from tests.fakes.openai_upstream import FakeOpenAIUpstream

# Each test run gets its own database beside `test`, so runs in parallel cannot collide.
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = f"gatewayz_test_{os.getpid()}"
POSTGRES_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/0"
IN_CI = os.environ.get("CI") == "true"
SECRET = "test-server-secret"
FAKE_PRICES = {"input_price_per_mtok": "2", "output_price_per_mtok": "8"}
FAKE_MODELS = (
    "fake-model",
    "fake-no-usage",
    "fake-truncate",
    "fake-garbage",
    "fake-slow-2000",
    "fake-error-400",
    "fake-error-429",
    "fake-error-500",
)


def _reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a test service is absent; fail instead in CI, where it must run."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: tests needing it must run)")
    pytest.skip(message)


async def _create_postgres_database() -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE):
            await admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await admin.close()


async def _reset_postgres() -> None:
    """Create this run's database if needed and drop everything in it."""
    await _create_postgres_database()
    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def _drop_postgres() -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
    finally:
        await admin.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's PostgreSQL database."""
    if _reachable("127.0.0.1", 5432):
        asyncio.run(_drop_postgres())


async def _empty_postgres() -> None:
    """Empty every table of this run's PostgreSQL database, which is migrated to the head
    revision first if it is not there (a fresh run, or a test that rebuilt the schema)."""
    await _create_postgres_database()
    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        try:
            revision = await conn.fetchval("SELECT version_num FROM alembic_version")
        except asyncpg.UndefinedTableError:
            revision = None
        if revision == _head_revision():
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            return
    finally:
        await conn.close()
    await _reset_postgres()
    await upgrade(POSTGRES_URL)


def _head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(POSTGRES_URL)).get_current_head()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per run, copied for each test that needs one."""
    path = tmp_path_factory.mktemp("template") / "gatewayz.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    """An empty, migrated database: SQLite in a temp dir, or the PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "gatewayz.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    require_service("PostgreSQL", "127.0.0.1", 5432)
    await _empty_postgres()
    return POSTGRES_URL


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAIUpstream]:
    async with FakeOpenAIUpstream() as fake:
        yield fake


def gateway_settings(
    database_url: str, upstream: FakeOpenAIUpstream, **overrides: object
) -> Settings:
    """Settings for a gateway whose one provider, `fake`, is the fake upstream."""
    values: dict[str, object] = {
        "database_url": database_url,
        "secret": SECRET,
        "auto_migrate": False,
        "catalog_refresh": False,
        "demo_provider": False,
        "environ": {},
        "providers": [
            {
                "name": "fake",
                "protocol": "openai",
                "base_url": upstream.base_url,
                "api_key": upstream.api_key,
                "models": [{"id": model, **FAKE_PRICES} for model in FAKE_MODELS],
            }
        ],
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Gateway:
    """A gateway served over real HTTP, with one funded user and their key."""

    base_url: str
    engine: AsyncEngine
    services: Services
    user_id: int
    api_key: str

    async def flush(self) -> None:
        """Write queued settlements and request logs now."""
        await settle_now(self.services)

    async def balance_units(self) -> int:
        return (await accounts.get_user(self.engine, user_id=self.user_id)).balance_units


async def settle_now(services: Services) -> None:
    """Give back idle credit leases and write queued settlements and request logs now."""
    services.holds.release_idle(now=float("inf"))
    await services.writer.flush()


async def add_funded_user(engine: AsyncEngine, email: str, credits: str) -> tuple[int, str]:
    user = await accounts.create_user(engine, email)
    if Decimal(credits):
        await ledger.change_credits(
            engine,
            user.id,
            credits_to_units(Decimal(credits)),
            kind="grant",
            reason="test",
            idempotency_key=f"test:{email}",
        )
    key = await accounts.create_key(engine, SECRET.encode(), user.id, "test")
    return user.id, key


class _PromptServer(uvicorn.Server):
    """Stops as soon as it is asked to (uvicorn's own loop looks every 0.1 s), which adds up
    over the hundreds of servers a test run starts."""

    async def main_loop(self) -> None:
        while not await self.on_tick(0):
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def serve(settings: Settings, **app_options: Any) -> AsyncIterator[tuple[str, Services]]:
    """Run the app on an ephemeral port in this event loop; yields (base URL, its services).

    `app_options` go to `create_app` (e.g. a test's `span_exporter`).
    """
    app = create_app(settings, **app_options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, log_level="warning", log_config=None, lifespan="on", access_log=False
    )
    server = _PromptServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", services_of(app)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def gateway(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Gateway]:
    user_id, key = await add_funded_user(engine, "dev@example.com", "10")
    async with serve(gateway_settings(database_url, upstream)) as (base_url, state):
        yield Gateway(base_url, engine, state, user_id, key)

"""One gateway per test module and database (starting one per test would take most of the
time budget); each test gets its own funded user, so their money never mixes.

The gateway makes one attempt per call and never opens a circuit: these tests check what a
single upstream answer becomes for the client, and tests must not depend on each other's
failures. Retries, failover and breakers are covered by test_failover.py.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.app_services import Services
from gatewayz.settings import Settings
from gatewayz.store.engine import create_engine
from gatewayz.store.migrate import upgrade
from tests.conftest import POSTGRES_URL, _reset_postgres, gateway_settings, require_service, serve
from tests.e2e.support import Caller, new_caller
from tests.fakes.openai_upstream import FakeOpenAIUpstream

ONE_ATTEMPT = {"max_attempts": 1, "breaker_failures": 1_000_000}


def e2e_settings(
    database_url: str,
    upstream: FakeOpenAIUpstream,
    slow_models: tuple[str, ...] = ("fake-slow-100",),
    **overrides: Any,
) -> Settings:
    """conftest's gateway settings, one attempt per call, plus slow models for timings."""
    (fake,) = gateway_settings(database_url, upstream).providers
    slow = tuple(fake.models[0].model_copy(update={"id": model}) for model in slow_models)
    providers = [fake.model_copy(update={"models": (*fake.models, *slow)})]
    values: dict[str, Any] = {"providers": providers, "routing": ONE_ATTEMPT, **overrides}
    return gateway_settings(database_url, upstream, **values)


@dataclass
class Stack:
    """A migrated database, the fake upstream, and a gateway serving it."""

    database_url: str
    engine: AsyncEngine
    upstream: FakeOpenAIUpstream
    base_url: str
    services: Services

    async def caller(self, credits: str = "10") -> Caller:
        return await new_caller(
            self.base_url, self.engine, self.services, self.upstream, self.database_url, credits
        )


@asynccontextmanager
async def migrated_database(database: str, tmp_dir: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A migrated, empty database of the kind named ("sqlite" in `tmp_dir`, or this run's
    PostgreSQL), its URL and an engine on it."""
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_dir / 'gatewayz.db'}"
    else:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        await _reset_postgres()
        url = POSTGRES_URL
    await upgrade(url)
    engine = create_engine(url)
    try:
        yield url, engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def running_stack(
    database: str,
    tmp_dir: Path,
    settings_for: Callable[[str, FakeOpenAIUpstream], Settings] = e2e_settings,
) -> AsyncIterator[Stack]:
    """A migrated database, the fake upstream, and a gateway with `settings_for(url, fake)`."""
    async with (
        migrated_database(database, tmp_dir) as (url, engine),
        FakeOpenAIUpstream() as upstream,
        serve(settings_for(url, upstream)) as (base_url, state),
    ):
        yield Stack(url, engine, upstream, base_url, state)


def with_fake_models(settings: Settings, **models: dict[str, Any]) -> Settings:
    """The settings with more models on the `fake` provider: id -> what differs from its
    first model (prices, limits)."""
    (fake,) = settings.providers
    added = [
        fake.models[0].model_copy(update={"id": id_, **fields}) for id_, fields in models.items()
    ]
    provider = fake.model_copy(update={"models": (*fake.models, *added)})
    return settings.model_copy(update={"providers": [provider]})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(request.param, tmp_path_factory.mktemp("e2e")) as stack:
        yield stack


@pytest.fixture
async def caller(stack: Stack) -> Caller:
    """A user holding 10 credits, with one key, on this module's gateway."""
    return await stack.caller()

"""One gateway per test module and database (starting one per test would take most of the
time budget); each test gets its own funded user, so their money never mixes.

The gateway makes one attempt per call and never opens a circuit: these tests check what a
single upstream answer becomes for the client, and tests must not depend on each other's
failures. Retries, failover and breakers are covered by test_failover.py.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

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
    app_state: Any

    async def caller(self, credits: str = "10") -> Caller:
        return await new_caller(
            self.base_url, self.engine, self.app_state, self.upstream, self.database_url, credits
        )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('e2e') / 'gatewayz.db'}"
    else:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        await _reset_postgres()
        url = POSTGRES_URL
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with (
            FakeOpenAIUpstream() as upstream,
            serve(e2e_settings(url, upstream)) as (base_url, state),
        ):
            yield Stack(url, engine, upstream, base_url, state)
    finally:
        await engine.dispose()


@pytest.fixture
async def caller(stack: Stack) -> Caller:
    """A user holding 10 credits, with one key, on this module's gateway."""
    return await stack.caller()

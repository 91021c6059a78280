"""create_app(settings): builds the app; the lifespan opens and closes every pool."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI

from gatewayz import __version__
from gatewayz.accounts.auth import Authenticator
from gatewayz.api import chat, health, media, messages, models, monitoring, responses, user
from gatewayz.api.request_id import RequestIdMiddleware
from gatewayz.billing import ledger
from gatewayz.billing.holds import CreditHolds
from gatewayz.errors import install_handlers
from gatewayz.providers.anthropic import AnthropicAdapter
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.fal import FalAdapter
from gatewayz.providers.gemini import GeminiAdapter
from gatewayz.providers.openai_compat import OpenAICompatAdapter
from gatewayz.providers.table import enabled_providers
from gatewayz.relay.core import Relay
from gatewayz.routing.failover import Failover
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.planner import Planner
from gatewayz.routing.probes import probe_forever
from gatewayz.settings import Settings, load_settings, server_secret
from gatewayz.store import migrate
from gatewayz.store.batch import BatchWriter
from gatewayz.store.engine import create_engine
from gatewayz.telemetry import request_log

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Gatewayz ASGI app for `settings` (default: from the environment and config file)."""
    settings = settings or load_settings()
    providers = enabled_providers(settings.providers, settings.environ)
    catalog = Catalog(providers)
    routing = settings.routing
    board = HealthBoard(routing.breaker_failures, routing.breaker_cooldown_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await migrate.upgrade(settings.database_url)
        engine = create_engine(settings.database_url)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
            auto_decompress=True,
        )
        writer = BatchWriter(
            engine,
            [("settlements", ledger.settle), ("request_logs", request_log.write)],
            interval=settings.log_flush_seconds,
            max_batch=settings.log_batch_size,
        )
        writer.start()
        holds = CreditHolds(engine, writer, lease_factor=256)
        holds.start()
        app.state.settings = settings
        app.state.engine = engine
        app.state.catalog = catalog
        app.state.writer = writer
        app.state.authenticator = Authenticator(
            engine, server_secret(settings), settings.auth_cache_seconds
        )
        app.state.health = board
        app.state.holds = holds
        app.state.relay = Relay(
            Planner(catalog, board, routing),
            Failover(board, routing),
            board,
            {
                "openai": OpenAICompatAdapter(session),
                "anthropic": AnthropicAdapter(session, settings.default_max_output_tokens),
                "gemini": GeminiAdapter(session),
                "fal": FalAdapter(session),
            },
            writer,
            holds,
            settings.default_max_output_tokens,
        )
        probes = None
        if routing.probe_interval_seconds:
            probes = asyncio.create_task(
                probe_forever(session, providers, board, routing.probe_interval_seconds)
            )
        log.info("serving %d models from %d providers", len(catalog.routes()), len(providers))
        try:
            yield
        finally:
            if probes is not None:
                probes.cancel()
                await asyncio.gather(probes, return_exceptions=True)
            await holds.stop()
            await writer.stop()
            await session.close()
            await engine.dispose()

    app = FastAPI(
        title="Gatewayz",
        version=__version__,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_handlers(app)
    for module in (chat, messages, responses, media, models, user, health, monitoring):
        app.include_router(module.router)
    app.add_middleware(RequestIdMiddleware)
    return app


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` and worker processes."""
    return create_app()

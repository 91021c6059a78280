"""create_app(settings): builds the app; the lifespan opens and closes every pool."""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from gatewayz import __version__
from gatewayz.accounts import audit
from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.key_checks import FailedLogins
from gatewayz.accounts.provider_keyring import ProviderKeyring
from gatewayz.accounts.secret_box import SecretBox
from gatewayz.api import (
    admin_audit,
    admin_credits,
    admin_roles,
    admin_usage,
    admin_users,
    chat,
    chat_sessions,
    coupons,
    health,
    media,
    messages,
    models,
    monitoring,
    monitoring_stats,
    payments,
    plans,
    provider_keys,
    referrals,
    responses,
    trials,
    user,
    user_keys,
)
from gatewayz.api import metrics as metrics_api
from gatewayz.api.address_limits import AddressLimitMiddleware
from gatewayz.api.prompt_log import PromptLogMiddleware
from gatewayz.api.request_id import RequestIdMiddleware
from gatewayz.billing import ledger
from gatewayz.billing.entitlements import Entitlements
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.key_spend import KeySpending
from gatewayz.billing.money import credits_to_units
from gatewayz.billing.payments import StripeCheckout
from gatewayz.billing.renewals import BillingTasks
from gatewayz.errors import install_handlers
from gatewayz.history.turns import ChatHistory
from gatewayz.limits.failover import FailoverStore
from gatewayz.limits.limiter import Limiter
from gatewayz.notify.backends import build_mailer
from gatewayz.notify.low_balance import LowBalanceWatcher
from gatewayz.notify.notices import Notifier
from gatewayz.providers.anthropic import AnthropicAdapter
from gatewayz.providers.bundled import load_bundled
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.catalog_refresh import CatalogRefresher
from gatewayz.providers.fal import FalAdapter
from gatewayz.providers.gemini import GeminiAdapter
from gatewayz.providers.openai_compat import OpenAICompatAdapter
from gatewayz.providers.table import enabled_providers
from gatewayz.relay.core import Relay
from gatewayz.relay.own_keys import OwnKeyRouting, keyless_catalog
from gatewayz.routing.failover import Failover
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.planner import Planner
from gatewayz.routing.probes import probe_forever
from gatewayz.settings import Settings, load_settings, previous_server_secrets, server_secret
from gatewayz.store import migrate
from gatewayz.store.batch import BatchWriter
from gatewayz.store.engine import create_engine
from gatewayz.telemetry import request_log
from gatewayz.telemetry.logs import configure_logging
from gatewayz.telemetry.setup import Telemetry

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, span_exporter: SpanExporter | None = None
) -> FastAPI:
    """The Gatewayz ASGI app for `settings` (default: from the environment and config file).

    `span_exporter` receives the traces instead of the OTLP endpoint (a test seam).
    """
    settings = settings or load_settings()
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn else None
    telemetry = Telemetry(
        settings.environ, settings.access_log, settings.otlp_endpoint, dsn, span_exporter
    )
    providers = enabled_providers(settings.providers, settings.environ)
    catalog = Catalog(providers, load_bundled())
    routing = settings.routing
    board = HealthBoard(
        routing.breaker_failures, routing.breaker_cooldown_seconds, telemetry.metrics.circuit_state
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await migrate.upgrade(settings.database_url)
        engine = create_engine(settings.database_url)
        telemetry.watch(engine)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
            auto_decompress=True,
        )
        writer = BatchWriter(
            engine,
            [
                ("settlements", ledger.settle),
                ("request_logs", request_log.write),
                (audit.SINK, audit.write),
            ],
            interval=settings.log_flush_seconds,
            max_batch=settings.log_batch_size,
        )
        writer.start()
        holds = CreditHolds(engine, writer, lease_factor=256)
        holds.start()
        entitlements = Entitlements(engine, settings.trial, settings.plans.refresh_seconds)
        limits = settings.limits
        limiter = Limiter(
            limits,
            FailoverStore(
                settings.redis_url, limits.redis_timeout_seconds, limits.redis_retry_seconds
            ),
            engine,
            entitlements.limits,
        )
        entitlements.on_change(limiter.forget_windows)
        entitlements.on_trial_ended(holds.give_back)
        await entitlements.start()
        await limiter.start()
        app.state.limiter = limiter
        app.state.settings = settings
        app.state.telemetry = telemetry
        app.state.engine = engine
        app.state.catalog = catalog
        app.state.writer = writer
        app.state.failed_logins = FailedLogins(writer)
        app.state.authenticator = Authenticator(
            engine,
            server_secret(settings),
            settings.auth_cache_seconds,
            previous_server_secrets(settings),
        )
        app.state.health = board
        app.state.notifier = Notifier(engine, build_mailer(settings.mail))
        low_balance = LowBalanceWatcher(
            engine,
            app.state.notifier,
            credits_to_units(settings.mail.low_balance_threshold),
            settings.mail.low_balance_check_seconds,
        )
        low_balance.start()
        app.state.secret_box = SecretBox(server_secret(settings), previous_server_secrets(settings))
        keyring = ProviderKeyring(engine, app.state.secret_box, settings.byok.refresh_seconds)
        await keyring.start()
        app.state.provider_keyring = keyring
        app.state.entitlements = entitlements
        app.state.billing_tasks = BillingTasks(
            engine,
            app.state.notifier,
            entitlements,
            settings.trial,
            settings.plans.renew_interval_seconds,
        )
        app.state.billing_tasks.start()
        app.state.stripe_checkout = StripeCheckout(settings.stripe, settings.environ)
        app.state.holds = holds
        app.state.chat_history = ChatHistory(engine)
        key_spending = KeySpending(engine)
        planner = Planner(catalog, board, routing)
        keyless = keyless_catalog(settings.providers, settings.environ, providers, load_bundled())
        app.state.relay = Relay(
            planner,
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
            limiter,
            key_spending=key_spending,
            entitlements=entitlements,
            own_keys=OwnKeyRouting(
                planner, Planner(keyless, board, routing), keyring, settings.byok.fee_percent
            ),
        )
        refresher = CatalogRefresher(catalog, session, engine, settings.catalog_ttl_seconds)
        await refresher.load_stored()
        app.state.catalog_refresher = refresher
        refreshing = None
        if settings.catalog_refresh:
            refreshing = asyncio.create_task(refresher.run_forever())
        probes = None
        if routing.probe_interval_seconds:
            probes = asyncio.create_task(
                probe_forever(session, providers, board, routing.probe_interval_seconds)
            )
        log.info("serving %d models from %d providers", len(catalog.routes()), len(providers))
        _settle_heap()
        try:
            yield
        finally:
            for task in (probes, refreshing):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await app.state.billing_tasks.stop()
            await entitlements.stop()
            await low_balance.stop()
            await keyring.stop()
            await app.state.notifier.close()
            await app.state.stripe_checkout.close()
            await limiter.stop()
            await holds.stop()
            await app.state.chat_history.drain()
            await key_spending.stop()
            await writer.stop()
            await session.close()
            await engine.dispose()
            await telemetry.close()

    app = FastAPI(
        title="Gatewayz",
        version=__version__,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_handlers(app)
    for module in (chat, messages, responses, media, models, user, user_keys, health, monitoring):
        app.include_router(module.router)
    app.include_router(chat_sessions.router)
    app.include_router(monitoring_stats.router)
    app.include_router(metrics_api.router)
    for module in (plans, trials):
        app.include_router(module.router)
    for module in (admin_users, admin_roles, admin_credits, admin_usage, admin_audit):
        app.include_router(module.router)
    for module in (payments, coupons, referrals, provider_keys):
        app.include_router(module.router)
    address = settings.limits.address
    if address.rpm or address.rpd:
        app.add_middleware(AddressLimitMiddleware, paths=address.paths)
    if settings.log_prompts:
        app.add_middleware(PromptLogMiddleware)
    app.add_middleware(RequestIdMiddleware, observer=telemetry.observer)
    return app


def _settle_heap() -> None:
    """Move everything built at start-up out of the garbage collector's way.

    Requests allocate many short-lived objects; without this, each full collection walks
    every long-lived object of the app and its libraries (about 80 ms here, several times a
    second under load).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` and worker processes (each logs JSON to stderr)."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)

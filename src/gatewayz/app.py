"""create_app(settings): builds the app; the lifespan opens and closes every pool."""

import gc
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from gatewayz import __version__, ui
from gatewayz.api import (
    admin_audit,
    admin_credits,
    admin_roles,
    admin_usage,
    admin_users,
    chat,
    chat_sessions,
    completions,
    coupons,
    gemini,
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
from gatewayz.api.authenticate_first import AuthenticateFirstMiddleware, KeyedRoutes
from gatewayz.api.body_limit import BodyLimitMiddleware
from gatewayz.api.hot_path import HotPath, HotRoutes
from gatewayz.api.prompt_log import PromptLogMiddleware
from gatewayz.api.request_id import RequestIdMiddleware
from gatewayz.errors import install_handlers, is_gemini_path
from gatewayz.providers.bundled import load_bundled
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.demo import demo_provider
from gatewayz.providers.table import enabled_providers
from gatewayz.routing.health import HealthBoard
from gatewayz.services import Static, open_services
from gatewayz.settings import Settings, load_settings, log_options
from gatewayz.telemetry.logs import configure_logging
from gatewayz.telemetry.setup import Telemetry

log = logging.getLogger(__name__)
# their bodies have the larger limit, and they are served on the hot path
_MODEL_CALLS = (chat, completions, messages, responses, media)
_ROUTERS = tuple(
    module.router
    for module in (
        chat,
        completions,
        messages,
        responses,
        media,
        gemini,
        models,
        chat_sessions,
        user,
        user_keys,
        provider_keys,
        plans,
        trials,
        payments,
        coupons,
        referrals,
        admin_users,
        admin_roles,
        admin_credits,
        admin_usage,
        admin_audit,
        health,
        monitoring,
        monitoring_stats,
        metrics_api,
    )
)


def create_app(
    settings: Settings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    adapters: Mapping[str, Adapter] | None = None,
) -> FastAPI:
    """The Gatewayz ASGI app for `settings` (default: from the environment and config file).

    `span_exporter` receives the traces instead of the OTLP endpoint, and `adapters` serve
    their wire protocols instead of the built-in adapters (test seams).
    """
    settings = settings or load_settings()
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn else None
    providers = enabled_providers(settings.providers, settings.environ)
    if settings.demo_provider:
        providers.append(demo_provider())
    catalog = Catalog(providers, load_bundled())
    routing = settings.routing

    def model_label(model: str) -> str | None:
        return catalog.known_id(model) or (model if model in routing.models else None)

    telemetry = Telemetry(
        settings.environ,
        settings.access_log,
        settings.otlp_endpoint,
        dsn,
        span_exporter,
        model_label,
    )
    board = HealthBoard(
        routing.breaker_failures, routing.breaker_cooldown_seconds, telemetry.metrics.circuit_state
    )
    static = Static(settings, telemetry, providers, catalog, board, dict(adapters or {}))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.services = await open_services(stack, static)
            log.info("serving %d models from %d providers", len(catalog.routes()), len(providers))
            _settle_heap()
            yield

    app = FastAPI(
        title="Gatewayz",
        version=__version__,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_handlers(app)
    for router in _ROUTERS:
        app.include_router(router)
    ui.install(app)  # the dashboard, under /ui: signed in by cookie, not by API key
    _add_middleware(app, settings, telemetry)
    return app


def _add_middleware(app: FastAPI, settings: Settings, telemetry: Telemetry) -> None:
    """From the outside in: request id and telemetry, the body limit, the address limit of
    the public endpoints, authentication (before any body is read), prompt logging, and the
    model calls' hot path past the router."""
    model_routes = [route for module in _MODEL_CALLS for route in module.router.routes]
    app.add_middleware(HotPath, routes=HotRoutes(model_routes))
    if settings.log_prompts:
        app.add_middleware(PromptLogMiddleware)
    routes = KeyedRoutes(route for router in _ROUTERS for route in router.routes)
    app.add_middleware(AuthenticateFirstMiddleware, routes=routes)
    address = settings.limits.address
    if address.rpm or address.rpd:
        app.add_middleware(AddressLimitMiddleware, paths=address.paths)
    model_calls = {route.path: settings.max_body_bytes for route in model_routes}
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_other_body_bytes,
        limits=model_calls,
        patterns=((is_gemini_path, settings.max_body_bytes),),  # Gemini's model calls
    )
    app.add_middleware(RequestIdMiddleware, observer=telemetry.observer)


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
    configure_logging(settings.log_level, **log_options(settings))
    return create_app(settings)

"""The typed dependencies of routes: the app's `Services` and one alias per part routes use;
the request's id.

A route names what it needs as a parameter, e.g. `engine: EngineDep`. Code that has a
request or a scope but is not a FastAPI-resolved route calls `app_services`,
`scope_services` or `current_request_id`: middleware, exception handlers, helpers of routes,
and the model calls, which the hot path (api/hot_path.py) calls with the request and the
caller only, past FastAPI's dependency solving. Dependencies are `async` so that FastAPI
runs them inline, not in its thread pool.
"""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection
from starlette.types import Scope

from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.provider_keyring import ProviderKeyring
from gatewayz.api.request_id import request_id_of
from gatewayz.app_services import Services, services_of
from gatewayz.billing.entitlements import Entitlements
from gatewayz.billing.payments import StripeCheckout
from gatewayz.history.turns import ChatHistory
from gatewayz.limits.limiter import Limiter
from gatewayz.notify.notices import Notifier
from gatewayz.providers.catalog import Catalog
from gatewayz.routing.health import HealthBoard
from gatewayz.settings import Settings
from gatewayz.telemetry.setup import Telemetry


def app_services(conn: HTTPConnection) -> Services:
    """The services of the app serving `conn`."""
    return services_of(conn.app)


def scope_services(scope: Scope) -> Services:
    """The services of the app serving the ASGI `scope` (for middleware)."""
    return services_of(scope["app"])


def current_request_id(conn: HTTPConnection) -> str:
    """The request's id, given by `RequestIdMiddleware` to every request the app serves."""
    found = request_id_of(conn)
    if found is None:
        raise LookupError("the request has no id: RequestIdMiddleware is not installed")
    return found


async def _services(request: Request) -> Services:
    return services_of(request.app)


async def _settings(request: Request) -> Settings:
    return services_of(request.app).settings


async def _telemetry(request: Request) -> Telemetry:
    return services_of(request.app).telemetry


async def _engine(request: Request) -> AsyncEngine:
    return services_of(request.app).engine


async def _catalog(request: Request) -> Catalog:
    return services_of(request.app).catalog


async def _health(request: Request) -> HealthBoard:
    return services_of(request.app).health


async def _authenticator(request: Request) -> Authenticator:
    return services_of(request.app).authenticator


async def _provider_keyring(request: Request) -> ProviderKeyring:
    return services_of(request.app).provider_keyring


async def _chat_history(request: Request) -> ChatHistory:
    return services_of(request.app).chat_history


async def _notifier(request: Request) -> Notifier:
    return services_of(request.app).notifier


async def _limiter(request: Request) -> Limiter:
    return services_of(request.app).limiter


async def _entitlements(request: Request) -> Entitlements:
    return services_of(request.app).entitlements


async def _stripe_checkout(request: Request) -> StripeCheckout:
    return services_of(request.app).stripe_checkout


ServicesDep = Annotated[Services, Depends(_services)]
SettingsDep = Annotated[Settings, Depends(_settings)]
TelemetryDep = Annotated[Telemetry, Depends(_telemetry)]
EngineDep = Annotated[AsyncEngine, Depends(_engine)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
HealthDep = Annotated[HealthBoard, Depends(_health)]
AuthenticatorDep = Annotated[Authenticator, Depends(_authenticator)]
ProviderKeyringDep = Annotated[ProviderKeyring, Depends(_provider_keyring)]
ChatHistoryDep = Annotated[ChatHistory, Depends(_chat_history)]
NotifierDep = Annotated[Notifier, Depends(_notifier)]
LimiterDep = Annotated[Limiter, Depends(_limiter)]
EntitlementsDep = Annotated[Entitlements, Depends(_entitlements)]
StripeCheckoutDep = Annotated[StripeCheckout, Depends(_stripe_checkout)]

"""`Services`: every long-lived part of a running gateway, typed, kept once on the app.

`services.open_services` builds it in the lifespan; routes take its parts as `Annotated`
dependencies from `api/deps.py`. The parts are imported for type checking only, so that the
request-facing code of accounts/ can reach them without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

    from gatewayz.accounts.auth import Authenticator
    from gatewayz.accounts.key_checks import FailedLogins
    from gatewayz.accounts.provider_keyring import ProviderKeyring
    from gatewayz.accounts.secret_box import SecretBox
    from gatewayz.accounts.signin_guard import SignInGuard
    from gatewayz.accounts.web_sessions import WebSessions
    from gatewayz.billing.entitlements import Entitlements
    from gatewayz.billing.holds import CreditHolds
    from gatewayz.billing.payments import StripeCheckout
    from gatewayz.billing.renewals import BillingTasks
    from gatewayz.history.turns import ChatHistory
    from gatewayz.limits.limiter import Limiter
    from gatewayz.notify.notices import Notifier
    from gatewayz.providers.catalog import Catalog
    from gatewayz.providers.catalog_refresh import CatalogRefresher
    from gatewayz.relay.core import Relay
    from gatewayz.routing.health import HealthBoard
    from gatewayz.settings import Settings
    from gatewayz.store.batch import BatchWriter
    from gatewayz.telemetry.setup import Telemetry


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """The parts every request may use, opened in the lifespan and closed after the last."""

    settings: Settings
    telemetry: Telemetry
    templates: Jinja2Templates
    """The dashboard's page templates."""
    catalog: Catalog
    health: HealthBoard
    engine: AsyncEngine
    writer: BatchWriter
    failed_logins: FailedLogins
    authenticator: Authenticator
    web_sessions: WebSessions
    signin_guard: SignInGuard
    secret_box: SecretBox
    provider_keyring: ProviderKeyring
    chat_history: ChatHistory
    notifier: Notifier
    holds: CreditHolds
    limiter: Limiter
    entitlements: Entitlements
    stripe_checkout: StripeCheckout
    billing_tasks: BillingTasks
    relay: Relay
    catalog_refresher: CatalogRefresher


def services_of(app: Starlette) -> Services:
    """The services of `app`, from its lifespan."""
    services: Services = app.state.services
    return services

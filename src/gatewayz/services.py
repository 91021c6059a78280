"""The long-lived parts of a running gateway, opened in dependency order on an exit stack, so
they close in the reverse order: nothing closes while a part opened after it still runs."""

import asyncio
import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import audit
from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.key_checks import FailedLogins
from gatewayz.accounts.provider_keyring import ProviderKeyring
from gatewayz.accounts.secret_box import SecretBox
from gatewayz.accounts.signin_guard import SignInGuard
from gatewayz.accounts.web_sessions import WebSessions
from gatewayz.app_services import Services
from gatewayz.billing import ledger, settlement_sink
from gatewayz.billing.entitlements import Entitlements
from gatewayz.billing.hold_owners import HoldOwner
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.key_spend import KeySpending
from gatewayz.billing.money import credits_to_units
from gatewayz.billing.payments import StripeCheckout
from gatewayz.billing.renewals import BillingTasks
from gatewayz.billing.revocation_channel import RevocationChannel, channel_name
from gatewayz.billing.revocations import RevocationWatch
from gatewayz.billing.worst_case import InputBounds
from gatewayz.history.turns import ChatHistory
from gatewayz.limits.limiter import Limiter
from gatewayz.limits.redis_or_memory import RedisOrMemoryStore
from gatewayz.notify.backends import build_mailer
from gatewayz.notify.low_balance import LowBalanceWatcher
from gatewayz.notify.notices import Notifier
from gatewayz.providers.adapters import builtin_adapters
from gatewayz.providers.bundled import load_bundled
from gatewayz.providers.capabilities import Adapter, log_unserved
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.catalog_refresh import CatalogRefresher
from gatewayz.providers.table import Provider
from gatewayz.relay.core import Relay
from gatewayz.relay.own_keys import OwnKeyRouting, keyless_catalog
from gatewayz.routing.failover import Failover
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.planner import Planner
from gatewayz.routing.probes import probe_forever
from gatewayz.settings import Settings, previous_server_secrets, secret_source, server_secret
from gatewayz.store.batch import BatchWriter, Sink
from gatewayz.store.engine import create_engine
from gatewayz.store.journal import journal_location
from gatewayz.telemetry import request_log
from gatewayz.telemetry.setup import Telemetry
from gatewayz.ui.render import build_templates

log = logging.getLogger(__name__)
OUTLIVING_CALLS_SECONDS = 30.0
"""How long shutdown waits for unstreamed calls whose client left before cancelling them."""


@dataclass(frozen=True, slots=True)
class Static:
    """What create_app builds before the lifespan: shared by every request."""

    settings: Settings
    telemetry: Telemetry
    providers: list[Provider]
    catalog: Catalog
    board: HealthBoard
    adapters: Mapping[str, Adapter] = field(default_factory=dict)
    """Adapters that serve these wire protocols instead of the built-in ones (a test seam)."""


@dataclass(slots=True)
class _Core:
    engine: AsyncEngine
    session: aiohttp.ClientSession
    writer: BatchWriter
    hold_owner: HoldOwner


@dataclass(slots=True)
class _Accounts:
    failed_logins: FailedLogins
    authenticator: Authenticator
    web_sessions: WebSessions
    signin_guard: SignInGuard
    secret_box: SecretBox
    provider_keyring: ProviderKeyring
    chat_history: ChatHistory
    notifier: Notifier


@dataclass(slots=True)
class _Billing:
    holds: CreditHolds
    limiter: Limiter
    entitlements: Entitlements
    stripe_checkout: StripeCheckout
    billing_tasks: BillingTasks


async def open_services(stack: AsyncExitStack, static: Static) -> Services:
    """Open every part of the gateway, closing with `stack`."""
    settings = static.settings
    core = await _open_core(stack, settings, static.telemetry)
    accounts = await _open_accounts(stack, settings, core)
    billing = await _open_billing(stack, settings, core, accounts.notifier)
    adapters = _adapters(static, core)
    relay = await _open_relay(stack, static, core, accounts, billing, adapters)
    catalog_refresher = await _open_catalog(stack, static, core, adapters)
    return Services(
        settings=settings,
        telemetry=static.telemetry,
        templates=build_templates(),
        catalog=static.catalog,
        health=static.board,
        engine=core.engine,
        writer=core.writer,
        failed_logins=accounts.failed_logins,
        authenticator=accounts.authenticator,
        web_sessions=accounts.web_sessions,
        signin_guard=accounts.signin_guard,
        secret_box=accounts.secret_box,
        provider_keyring=accounts.provider_keyring,
        chat_history=accounts.chat_history,
        notifier=accounts.notifier,
        holds=billing.holds,
        limiter=billing.limiter,
        entitlements=billing.entitlements,
        stripe_checkout=billing.stripe_checkout,
        billing_tasks=billing.billing_tasks,
        relay=relay,
        catalog_refresher=catalog_refresher,
    )


async def _open_core(stack: AsyncExitStack, settings: Settings, telemetry: Telemetry) -> _Core:
    """The database, the upstream HTTP session, this process as an owner of credit holds,
    and the batch writer (which closes before the owner, so its last holds are given back)."""
    if settings.auto_migrate:  # (Alembic is imported only here: it is not served with)
        from gatewayz.store import migrate

        await migrate.upgrade(settings.database_url)
    stack.push_async_callback(telemetry.close)
    engine = create_engine(
        settings.database_url, sqlite_busy_timeout=settings.sqlite_busy_timeout_seconds
    )
    stack.push_async_callback(engine.dispose)
    telemetry.watch(engine)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
        auto_decompress=True,
    )
    stack.push_async_callback(session.close)
    hold_owner = HoldOwner(engine, settings.holds)
    await hold_owner.start()
    stack.push_async_callback(hold_owner.stop)
    writer = _writer(settings, engine, telemetry)
    await writer.start()  # replays journals of stopped processes before the gateway serves
    stack.push_async_callback(writer.stop)
    return _Core(engine, session, writer, hold_owner)


def _writer(settings: Settings, engine: AsyncEngine, telemetry: Telemetry) -> BatchWriter:
    """Settlements, request-log rows and audit events, written in batches, never dropped."""
    return BatchWriter(
        engine,
        [
            Sink("settlements", settlement_sink.settle, (ledger.Settlement, ledger.HoldRelease)),
            Sink("request_logs", request_log.write, (request_log.RequestLogRow,)),
            Sink(audit.SINK, audit.write, (audit.AuditEvent,)),
        ],
        interval=settings.log_flush_seconds,
        max_batch=settings.log_batch_size,
        journal=journal_location(settings.database_url, settings.journal_dir),
        memory_rows=settings.log_memory_rows,
        observer=telemetry.metrics,
    )


async def _open_accounts(stack: AsyncExitStack, settings: Settings, core: _Core) -> _Accounts:
    """Authentication, users' own provider keys, chat history and notices."""
    engine = core.engine
    secret, previous = server_secret(settings), previous_server_secrets(settings)
    log.info("using the server secret in %s", secret_source(settings))
    web_sessions, signin_guard = _open_dashboard_sign_in(settings, engine, secret, previous)
    secret_box = SecretBox(secret, previous)
    provider_keyring = ProviderKeyring(engine, secret_box, settings.byok.refresh_seconds)
    await provider_keyring.start()
    stack.push_async_callback(provider_keyring.stop)
    chat_history = ChatHistory(engine)
    stack.push_async_callback(chat_history.drain)
    notifier = Notifier(engine, build_mailer(settings.mail))
    stack.push_async_callback(notifier.close)
    low_balance = LowBalanceWatcher(
        engine,
        notifier,
        credits_to_units(settings.mail.low_balance_threshold),
        settings.mail.low_balance_check_seconds,
    )
    low_balance.start()
    stack.push_async_callback(low_balance.stop)
    return _Accounts(
        failed_logins=FailedLogins(core.writer),
        authenticator=Authenticator(engine, secret, settings.auth_cache_seconds, previous),
        web_sessions=web_sessions,
        signin_guard=signin_guard,
        secret_box=secret_box,
        provider_keyring=provider_keyring,
        chat_history=chat_history,
        notifier=notifier,
    )


def _open_dashboard_sign_in(
    settings: Settings, engine: AsyncEngine, secret: bytes, previous: tuple[bytes, ...]
) -> tuple[WebSessions, SignInGuard]:
    """The dashboard's browser sessions and its guard against password guessing."""
    accounts = settings.accounts
    web_sessions = WebSessions(
        engine,
        secret,
        SecretBox(secret, previous),
        timedelta(hours=accounts.session_hours),
        settings.keys.max_keys_per_user,
    )
    signin_guard = SignInGuard(
        engine,
        timedelta(minutes=accounts.signin_window_minutes),
        accounts.signin_failures_per_email,
        accounts.signin_failures_per_address,
    )
    return web_sessions, signin_guard


async def _open_billing(
    stack: AsyncExitStack, settings: Settings, core: _Core, notifier: Notifier
) -> _Billing:
    """Credit leases, plans and trials, rate limits, payments."""
    holds = CreditHolds(
        core.engine,
        core.writer,
        lease_factor=256,
        share=settings.holds.lease_share,
        owner=core.hold_owner.id,
    )
    holds.start()
    stack.push_async_callback(holds.stop)
    await _watch_revocations(stack, settings, core, holds)
    entitlements = Entitlements(
        core.engine, settings.trial, settings.plans.refresh_seconds, core.writer.flush
    )
    limits = settings.limits
    store = RedisOrMemoryStore(
        settings.redis_url, limits.redis_timeout_seconds, limits.redis_retry_seconds
    )
    limiter = Limiter(limits, store, core.engine, entitlements.limits)
    entitlements.on_change(limiter.forget_windows)
    entitlements.on_trial_ended(holds.give_back)
    await entitlements.start()
    stack.push_async_callback(entitlements.stop)
    await limiter.start()
    stack.push_async_callback(limiter.stop)
    stripe_checkout = StripeCheckout(settings.stripe, settings.environ)
    stack.push_async_callback(stripe_checkout.close)
    billing_tasks = BillingTasks(
        core.engine,
        notifier,
        entitlements,
        settings.trial,
        settings.plans.renew_interval_seconds,
    )
    billing_tasks.start()
    stack.push_async_callback(billing_tasks.stop)
    return _Billing(holds, limiter, entitlements, stripe_checkout, billing_tasks)


async def _watch_revocations(
    stack: AsyncExitStack, settings: Settings, core: _Core, holds: CreditHolds
) -> None:
    """Every balance decrease, made in any process, gives back this process's leases for
    the user: announced on Redis when there is one, read from the database in any case."""
    origin, interval = core.hold_owner.id, settings.holds.revocation_poll_seconds
    channel = None
    if settings.redis_url:
        channel = RevocationChannel(
            settings.redis_url,
            channel_name(settings.limits.redis_prefix),
            origin,
            settings.limits.redis_retry_seconds,
        )
        stack.push_async_callback(channel.close)
        interval = settings.holds.revocation_backstop_seconds
    watch = RevocationWatch(
        core.engine,
        holds,
        origin=origin,
        interval=interval,
        keep_seconds=settings.holds.revocation_keep_seconds,
        announce=channel.announce if channel else None,
    )
    await watch.start()
    stack.push_async_callback(watch.stop)
    if channel is not None:
        channel.listen(watch.heard, watch.look_now)


def _adapters(static: Static, core: _Core) -> dict[str, Adapter]:
    """The adapter of every wire protocol, built in or configured, on the pooled session; the
    catalog's routes none of them serves are logged."""
    adapters = {
        **builtin_adapters(core.session, static.settings.default_max_output_tokens),
        **static.adapters,
    }
    log_unserved(static.catalog.routes(), adapters)
    return adapters


async def _open_relay(
    stack: AsyncExitStack,
    static: Static,
    core: _Core,
    accounts: _Accounts,
    billing: _Billing,
    adapters: Mapping[str, Adapter],
) -> Relay:
    """The request path: planning, failover, the protocol adapters, holds on keys."""
    settings, board, routing = static.settings, static.board, static.settings.routing
    key_spending = KeySpending(core.engine, owner=core.hold_owner.id)
    stack.push_async_callback(key_spending.stop)
    planner = Planner(static.catalog, board, routing)
    keyless = keyless_catalog(
        settings.providers, settings.environ, static.providers, load_bundled()
    )
    relay = Relay(
        planner,
        Failover(board, routing),
        board,
        adapters,
        core.writer,
        billing.holds,
        settings.default_max_output_tokens,
        billing.limiter,
        key_spending=key_spending,
        entitlements=billing.entitlements,
        own_keys=OwnKeyRouting(
            planner,
            Planner(keyless, board, routing),
            accounts.provider_keyring,
            settings.byok.fee_percent,
        ),
        bounds=InputBounds(settings.image_input_tokens, settings.tools_input_tokens),
        engine=core.engine,
    )
    # Calls whose client left finish (and settle) before the holds and the writer close.
    stack.push_async_callback(relay.outliving.drain, OUTLIVING_CALLS_SECONDS)
    return relay


async def _open_catalog(
    stack: AsyncExitStack, static: Static, core: _Core, adapters: Mapping[str, Adapter]
) -> CatalogRefresher:
    """Stored model lists now; fresh ones and provider probes in the background. The routes
    their lists add that `adapters` cannot serve are logged."""
    settings = static.settings
    refresher = CatalogRefresher(
        static.catalog,
        core.session,
        core.engine,
        settings.catalog_ttl_seconds,
        adapters=adapters,
    )
    await refresher.load_stored()
    if settings.catalog_refresh:
        _background(stack, refresher.run_forever())
    interval = settings.routing.probe_interval_seconds
    if interval:
        _background(stack, probe_forever(core.session, static.providers, static.board, interval))
    return refresher


def _background(stack: AsyncExitStack, work: Any) -> None:
    """Run `work` until the stack closes."""
    task = asyncio.create_task(work)

    async def cancel() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    stack.push_async_callback(cancel)

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
from gatewayz.providers.capabilities import Adapter, unserved
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
from gatewayz.store import migrate
from gatewayz.store.batch import BatchWriter, Sink
from gatewayz.store.engine import create_engine
from gatewayz.store.journal import journal_location
from gatewayz.telemetry import request_log
from gatewayz.telemetry.setup import Telemetry

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


async def open_services(state: Any, stack: AsyncExitStack, static: Static) -> None:
    """Open every part of the gateway onto `state` (the app's state), closing with `stack`."""
    settings = static.settings
    state.settings, state.telemetry = settings, static.telemetry
    state.catalog, state.health = static.catalog, static.board
    core = await _open_core(stack, settings, static.telemetry)
    state.engine, state.writer = core.engine, core.writer
    await _open_accounts(state, stack, settings, core.engine)
    holds = await _open_billing(state, stack, settings, core)
    await _open_relay(state, stack, static, core, holds)
    await _open_catalog(state, stack, static, core)


async def _open_core(stack: AsyncExitStack, settings: Settings, telemetry: Telemetry) -> _Core:
    """The database, the upstream HTTP session, this process as an owner of credit holds,
    and the batch writer (which closes before the owner, so its last holds are given back)."""
    if settings.auto_migrate:
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


async def _open_accounts(
    state: Any, stack: AsyncExitStack, settings: Settings, engine: AsyncEngine
) -> None:
    """Authentication, users' own provider keys, chat history and notices."""
    secret, previous = server_secret(settings), previous_server_secrets(settings)
    log.info("using the server secret in %s", secret_source(settings))
    state.failed_logins = FailedLogins(state.writer)
    _open_dashboard_sign_in(state, settings, engine, secret, previous)
    state.authenticator = Authenticator(engine, secret, settings.auth_cache_seconds, previous)
    state.secret_box = SecretBox(secret, previous)
    state.provider_keyring = ProviderKeyring(
        engine, state.secret_box, settings.byok.refresh_seconds
    )
    await state.provider_keyring.start()
    stack.push_async_callback(state.provider_keyring.stop)
    state.chat_history = ChatHistory(engine)
    stack.push_async_callback(state.chat_history.drain)
    state.notifier = Notifier(engine, build_mailer(settings.mail))
    stack.push_async_callback(state.notifier.close)
    low_balance = LowBalanceWatcher(
        engine,
        state.notifier,
        credits_to_units(settings.mail.low_balance_threshold),
        settings.mail.low_balance_check_seconds,
    )
    low_balance.start()
    stack.push_async_callback(low_balance.stop)


def _open_dashboard_sign_in(
    state: Any, settings: Settings, engine: AsyncEngine, secret: bytes, previous: Any
) -> None:
    """The dashboard's browser sessions and its guard against password guessing."""
    accounts = settings.accounts
    state.web_sessions = WebSessions(
        engine,
        secret,
        SecretBox(secret, previous),
        timedelta(hours=accounts.session_hours),
        settings.keys.max_keys_per_user,
    )
    state.signin_guard = SignInGuard(
        engine,
        timedelta(minutes=accounts.signin_window_minutes),
        accounts.signin_failures_per_email,
        accounts.signin_failures_per_address,
    )


async def _open_billing(
    state: Any, stack: AsyncExitStack, settings: Settings, core: _Core
) -> CreditHolds:
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
    state.holds = holds
    await _watch_revocations(stack, settings, core, holds)
    entitlements = Entitlements(
        core.engine, settings.trial, settings.plans.refresh_seconds, core.writer.flush
    )
    limits = settings.limits
    store = RedisOrMemoryStore(
        settings.redis_url, limits.redis_timeout_seconds, limits.redis_retry_seconds
    )
    state.limiter = Limiter(limits, store, core.engine, entitlements.limits)
    entitlements.on_change(state.limiter.forget_windows)
    entitlements.on_trial_ended(holds.give_back)
    await entitlements.start()
    stack.push_async_callback(entitlements.stop)
    await state.limiter.start()
    stack.push_async_callback(state.limiter.stop)
    state.entitlements = entitlements
    state.stripe_checkout = StripeCheckout(settings.stripe, settings.environ)
    stack.push_async_callback(state.stripe_checkout.close)
    state.billing_tasks = BillingTasks(
        core.engine,
        state.notifier,
        entitlements,
        settings.trial,
        settings.plans.renew_interval_seconds,
    )
    state.billing_tasks.start()
    stack.push_async_callback(state.billing_tasks.stop)
    return holds


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


async def _open_relay(
    state: Any, stack: AsyncExitStack, static: Static, core: _Core, holds: CreditHolds
) -> None:
    """The request path: planning, failover, the protocol adapters, holds on keys."""
    settings, board, routing = static.settings, static.board, static.settings.routing
    key_spending = KeySpending(core.engine, owner=core.hold_owner.id)
    stack.push_async_callback(key_spending.stop)
    planner = Planner(static.catalog, board, routing)
    keyless = keyless_catalog(
        settings.providers, settings.environ, static.providers, load_bundled()
    )
    adapters = {
        **builtin_adapters(core.session, settings.default_max_output_tokens),
        **static.adapters,
    }
    unserved(static.catalog.routes(), adapters)
    state.relay = Relay(
        planner,
        Failover(board, routing),
        board,
        adapters,
        core.writer,
        holds,
        settings.default_max_output_tokens,
        state.limiter,
        key_spending=key_spending,
        entitlements=state.entitlements,
        own_keys=OwnKeyRouting(
            planner,
            Planner(keyless, board, routing),
            state.provider_keyring,
            settings.byok.fee_percent,
        ),
        bounds=InputBounds(settings.image_input_tokens, settings.tools_input_tokens),
        engine=core.engine,
    )
    # Calls whose client left finish (and settle) before the holds and the writer close.
    stack.push_async_callback(state.relay.outliving.drain, OUTLIVING_CALLS_SECONDS)


async def _open_catalog(state: Any, stack: AsyncExitStack, static: Static, core: _Core) -> None:
    """Stored model lists now; fresh ones and provider probes in the background."""
    settings = static.settings
    refresher = CatalogRefresher(
        static.catalog, core.session, core.engine, settings.catalog_ttl_seconds
    )
    await refresher.load_stored()
    state.catalog_refresher = refresher
    if settings.catalog_refresh:
        _background(stack, refresher.run_forever())
    interval = settings.routing.probe_interval_seconds
    if interval:
        _background(stack, probe_forever(core.session, static.providers, static.board, interval))


def _background(stack: AsyncExitStack, work: Any) -> None:
    """Run `work` until the stack closes."""
    task = asyncio.create_task(work)

    async def cancel() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    stack.push_async_callback(cancel)

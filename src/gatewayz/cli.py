"""The `gatewayz` command: serve, db, users, keys, credits, limits, models."""

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import aiohttp
import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import select

from gatewayz.accounts import audit, roles
from gatewayz.accounts import users as accounts
from gatewayz.accounts.audit import AuditEvent
from gatewayz.accounts.provider_keys import reencrypt_all
from gatewayz.accounts.roles import ADMIN_ROLE, USER_ROLE
from gatewayz.accounts.secret_box import SecretBox
from gatewayz.billing import ledger
from gatewayz.billing.hold_owners import reclaim
from gatewayz.billing.money import credits_to_units, format_credits
from gatewayz.errors import GatewayError
from gatewayz.limits import overrides
from gatewayz.limits.settings import LimitValues
from gatewayz.providers.catalog_refresh import SyncResult, sync_providers
from gatewayz.providers.table import Provider, enabled_providers, merged_specs
from gatewayz.settings import (
    CONFIG_ENV,
    ConfigError,
    Settings,
    load_settings,
    previous_server_secrets,
    server_secret,
)
from gatewayz.store import migrate
from gatewayz.store.engine import create_engine
from gatewayz.store.tables import api_keys
from gatewayz.telemetry.logs import configure_logging
from gatewayz.telemetry.metrics import multiprocess_dir

app = typer.Typer(
    pretty_exceptions_enable=False,
    help="Gatewayz: one gateway in front of every AI inference provider.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Credits.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
app.add_typer(models_app, name="models")
limits_app = typer.Typer(help="Rate limits of users and keys.", no_args_is_help=True)
app.add_typer(limits_app, name="limits")
secrets_app = typer.Typer(help="The server secret and what it protects.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
holds_app = typer.Typer(help="Credit held by gateway processes.", no_args_is_help=True)
app.add_typer(holds_app, name="holds")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML config file (or GATEWAYZ_CONFIG).")
]
T = TypeVar("T")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _settings(config: Path | None) -> Settings:
    overrides: dict[str, Any] = {"config": config} if config else {}
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        _fail(str(exc))
        raise


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(engine)` on an upgraded database, turning known errors into one line."""

    async def main() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        migrate.upgrade_sync(settings.database_url)
        return asyncio.run(main())
    except (accounts.AccountError, ledger.InsufficientBalance) as exc:
        _fail(str(exc) or type(exc).__name__)
        raise


def _command(func: Callable[..., None]) -> Callable[..., None]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except ConfigError as exc:
            _fail(str(exc))

    return wrapper


@app.command()
@_command
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    config: ConfigOption = None,
    migrate_db: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the schema first.")
    ] = True,
) -> None:
    """Serve the gateway over HTTP."""
    settings = _settings(config)
    configure_logging(settings.log_level)
    server_secret(settings)
    if migrate_db:
        migrate.upgrade_sync(settings.database_url)
    _run(settings, lambda engine: _bootstrap_admin(engine, settings))
    if config:
        os.environ[CONFIG_ENV] = str(config.resolve())
    os.environ["GATEWAYZ_AUTO_MIGRATE"] = "false"
    processes = workers or settings.workers
    with multiprocess_dir(processes, settings.environ):
        uvicorn.run(
            "gatewayz.app:app_from_environment",
            factory=True,
            host=host or settings.host,
            port=port if port is not None else settings.port,
            workers=processes,
            log_level=settings.log_level,
            log_config=None,
            access_log=False,
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=30,
        )


async def _bootstrap_admin(engine: Any, settings: Settings) -> None:
    """On the first start, create the admin user with a key and print the key once."""
    if await accounts.count_users(engine):
        return
    user = await accounts.create_user(engine, settings.bootstrap_admin_email, role=ADMIN_ROLE)
    if settings.bootstrap_admin_credits:
        await ledger.change_credits(
            engine,
            user.id,
            credits_to_units(settings.bootstrap_admin_credits),
            kind="grant",
            reason="initial admin credits",
            idempotency_key=f"bootstrap:{user.id}",
        )
    key = await accounts.create_key(engine, server_secret(settings), user.id, "admin (first start)")
    typer.echo(
        f"Created admin user {user.email}. Its API key, shown only this once:\n\n    {key}\n",
        err=True,
    )


@db_app.command("upgrade")
@_command
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply every pending schema migration."""
    settings = _settings(config)
    migrate.upgrade_sync(settings.database_url)
    typer.echo("database is up to date", err=True)


@users_app.command("create")
@_command
def users_create(
    email: str,
    credits: Annotated[str, typer.Option(help="Starting credits (USD).")] = "0",
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    config: ConfigOption = None,
) -> None:
    """Create a user."""
    amount = _amount(credits, allow_zero=True)
    settings = _settings(config)

    async def work(engine: Any) -> None:
        user = await accounts.create_user(engine, email, role=ADMIN_ROLE if admin else USER_ROLE)
        if amount:
            await ledger.change_credits(
                engine,
                user.id,
                amount,
                kind="grant",
                reason="initial credits",
                idempotency_key=f"signup:{user.id}",
            )
        typer.echo(
            f"created user {user.email} (id {user.id}) with {format_credits(amount)} credits",
            err=True,
        )

    _run(settings, work)


@users_app.command("role")
@_command
def users_role(email: str, role: str, config: ConfigOption = None) -> None:
    """Give a user a role (admin, user or a custom role); audited as role.changed."""
    settings = _settings(config)

    async def work(engine: Any) -> str:
        user = await accounts.get_user(engine, email=email)
        try:
            async with engine.begin() as conn:
                old = await roles.assign_role(conn, user.id, role)
                details = {"old_role": old, "new_role": role, "via": "cli"}
                await audit.record(
                    conn,
                    AuditEvent("role.changed", None, None, "user", str(user.id), None, details),
                )
        except GatewayError as exc:
            raise accounts.AccountError(exc.message) from None
        return old

    old = _run(settings, work)
    typer.echo(f"{email}: role {old} -> {role}", err=True)


@keys_app.command("create")
@_command
def keys_create(
    email: str,
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "default",
    config: ConfigOption = None,
) -> None:
    """Create an API key; prints only the key, once."""
    settings = _settings(config)
    secret = server_secret(settings)

    async def work(engine: Any) -> str:
        user = await accounts.get_user(engine, email=email)
        key = await accounts.create_key(engine, secret, user.id, name)
        await _operator_event(engine, "key.created", "user", user.id, name=name)
        return key

    typer.echo(_run(settings, work))


@keys_app.command("list")
@_command
def keys_list(email: str, config: ConfigOption = None) -> None:
    """List a user's keys (id, name, prefix, state); never the keys themselves."""
    settings = _settings(config)

    async def work(engine: Any) -> list[accounts.KeyInfo]:
        user = await accounts.get_user(engine, email=email)
        return await accounts.list_keys(engine, user.id)

    for key in _run(settings, work):
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        typer.echo(f"{key.id}\t{key.name}\t{key.display_prefix}…\t{state}")


@keys_app.command("revoke")
@_command
def keys_revoke(email: str, key_id: int, config: ConfigOption = None) -> None:
    """Revoke one of a user's keys (gateways stop accepting it within the auth cache time)."""
    settings = _settings(config)

    async def work(engine: Any) -> None:
        user = await accounts.get_user(engine, email=email)
        await accounts.revoke_key(engine, user.id, key_id)
        await _operator_event(engine, "key.revoked", "api_key", key_id, user_id=str(user.id))

    _run(settings, work)
    typer.echo(f"revoked key {key_id}", err=True)


@credits_app.command("add", context_settings={"ignore_unknown_options": True})
@_command
def credits_add(
    email: str,
    amount: str,
    reason: Annotated[str, typer.Option(help="Why, for the ledger.")] = "added by an operator",
    config: ConfigOption = None,
) -> None:
    """Add credits (USD) to a user's balance."""
    units = _amount(amount, allow_zero=False)
    settings = _settings(config)

    async def work(engine: Any) -> ledger.CreditChange:
        user = await accounts.get_user(engine, email=email)
        async with engine.begin() as conn:
            change = await ledger.apply_change(
                conn,
                user.id,
                units,
                kind="grant",
                reason=reason,
                idempotency_key=f"cli:{uuid.uuid4()}",
            )
            details = {"amount": format_credits(units), "reason": reason, "via": "cli"}
            await audit.record(
                conn,
                AuditEvent(
                    "credits.adjusted", target_type="user", target_id=str(user.id), details=details
                ),
            )
        return change

    change = _run(settings, work)
    typer.echo(f"balance of {email}: {format_credits(change.balance_after_units)}", err=True)


@holds_app.command("reclaim")
@_command
def holds_reclaim(
    stale_seconds: Annotated[
        float | None,
        typer.Option(help="Seconds without a heartbeat after which a process counts as dead."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Give back the credit held by gateway processes that stopped without shutting down."""
    settings = _settings(config)
    stale = settings.holds.stale_seconds if stale_seconds is None else stale_seconds
    if stale < 0:
        _fail(f"--stale-seconds must be 0 or more, got {stale:g}")
    found = _run(settings, lambda engine: reclaim(engine, stale))
    for item in found:
        typer.echo(
            f"{item.process_id}\tlast seen {item.last_seen:%Y-%m-%d %H:%M:%S}\t"
            f"{item.users} users\t{item.keys} keys\t{format_credits(item.units)} credits"
        )
    typer.echo(f"gave back the holds of {len(found)} stopped processes", err=True)


async def _operator_event(
    engine: Any, event: str, target_type: str, target_id: int, **details: str
) -> None:
    """Audit a change an operator made from the command line."""
    async with engine.begin() as conn:
        await audit.record(
            conn,
            AuditEvent(
                event,
                target_type=target_type,
                target_id=str(target_id),
                details={**details, "via": "cli"},
            ),
        )


def _amount(text: str, *, allow_zero: bool) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        _fail(f"{text!r} is not a number")
        raise
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        _fail(f"amount must be {'zero or more' if allow_zero else 'more than zero'}, got {text}")
    try:
        return credits_to_units(value)
    except ValueError as exc:
        _fail(str(exc))
        raise


@models_app.command("sync")
@_command
def models_sync(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    config: ConfigOption = None,
) -> None:
    """Fetch the enabled providers' model lists now and store them for every gateway."""
    settings = _settings(config)
    targets = _sync_targets(settings, provider)

    async def work(engine: Any) -> list[SyncResult]:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            bar = progress.add_task("syncing model lists", total=len(targets))

            def done(result: SyncResult) -> None:
                outcome = f"{result.models} models" if result.ok else f"failed: {result.error}"
                progress.console.print(f"{result.provider}: {outcome}")
                progress.advance(bar)

            async with aiohttp.ClientSession() as session:
                return await sync_providers(session, engine, targets, done)

    results = _run(settings, work)
    failed = [r for r in results if not r.ok]
    models = sum(r.models for r in results)
    summary = f"synced {len(results) - len(failed)} of {len(results)} providers, {models} models"
    if failed:
        summary += f"; failed: {', '.join(r.provider for r in failed)}"
    typer.echo(summary, err=True)
    if failed:
        raise typer.Exit(1)


def _sync_targets(settings: Settings, name: str | None) -> list[Provider]:
    """The enabled providers with a model list (or just `name`); one-line errors otherwise."""
    listed = enabled_providers(settings.providers, settings.environ)
    targets = [p for p in listed if p.spec.models_path is not None]
    if name is not None:
        if name not in {spec.name for spec in merged_specs(settings.providers)}:
            _fail(f"unknown provider {name!r}")
        if name not in {p.name for p in listed}:
            _fail(f"provider {name!r} is not enabled (set its API key)")
        targets = [p for p in targets if p.name == name]
        if not targets:
            _fail(f"provider {name!r} publishes no model list")
    elif not targets:
        _fail("no enabled provider publishes a model list (set a provider's API key)")
    return targets


LimitOption = Annotated[
    str | None, typer.Option(metavar="N|default", help="A limit, or 'default' for the configured.")
]


@limits_app.command("set")
@_command
def limits_set(
    user: Annotated[str | None, typer.Option(help="The user's email.")] = None,
    key: Annotated[int | None, typer.Option(help="The API key's id (see `keys list`).")] = None,
    rpm: LimitOption = None,
    rpd: LimitOption = None,
    tpm: LimitOption = None,
    concurrency: LimitOption = None,
    config: ConfigOption = None,
) -> None:
    """Give one user or one key its own rate limits, over the configured ones."""
    if (user is None) == (key is None):
        _fail("give exactly one of --user EMAIL or --key KEY_ID")
    given = {"rpm": rpm, "rpd": rpd, "tpm": tpm, "concurrency": concurrency}
    changes = {name: _limit(name, text) for name, text in given.items() if text is not None}
    if not changes:
        _fail("give at least one of --rpm, --rpd, --tpm, --concurrency")
    settings = _settings(config)

    async def work(engine: Any) -> LimitValues:
        if user is not None:
            found = await accounts.get_user(engine, email=user)
            return await overrides.store(engine, changes, user_id=found.id)
        async with engine.connect() as conn:
            found_key = (
                await conn.execute(select(api_keys.c.id).where(api_keys.c.id == key))
            ).first()
        if found_key is None:
            raise accounts.AccountError(f"no API key with id {key}")
        return await overrides.store(engine, changes, key_id=key)

    values = _run(settings, work)
    shown = ", ".join(f"{name} {getattr(values, name) or 'default'}" for name in overrides.FIELDS)
    typer.echo(f"limits of {f'user {user}' if user else f'key {key}'}: {shown}", err=True)


def _limit(name: str, text: str) -> int | None:
    """A limit option's value: a whole number of at least 1, or None for 'default'."""
    if text == "default":
        return None
    if not text.isdigit() or int(text) < 1:
        _fail(f"--{name} must be a whole number of at least 1, or 'default'; got {text!r}")
    return int(text)


@secrets_app.command("reencrypt")
@_command
def secrets_reencrypt(config: ConfigOption = None) -> None:
    """Re-encrypt users' stored provider keys under the current server secret (after rotating
    it: GATEWAYZ_SECRET new, the old one in GATEWAYZ_PREVIOUS_SECRETS)."""
    settings = _settings(config)
    box = SecretBox(server_secret(settings), previous_server_secrets(settings))
    done, failed = _run(settings, lambda engine: reencrypt_all(engine, box))
    typer.echo(f"re-encrypted {done} provider keys under the current server secret", err=True)
    if failed:
        _fail(
            f"{failed} provider keys open with neither the current nor any previous secret "
            "(add the secret they were stored under to GATEWAYZ_PREVIOUS_SECRETS)"
        )

"""`gatewayz serve` (with the first start's admin) and `gatewayz db`."""

import os
import sys
from typing import Annotated, Any

import typer

from gatewayz.accounts import users as accounts
from gatewayz.accounts.roles import ADMIN_ROLE
from gatewayz.billing import ledger
from gatewayz.billing.money import credits_to_units
from gatewayz.cli.common import ConfigOption, command, fail, run, settings_from
from gatewayz.settings import (
    CONFIG_ENV,
    Settings,
    log_options,
    server_secret,
)
from gatewayz.store import migrate
from gatewayz.store.migrate import pending_revisions
from gatewayz.telemetry.logs import configure_logging, drain_logs

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@command
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
    settings = settings_from(config)
    configure_logging(settings.log_level, **log_options(settings))
    server_secret(settings)
    if not migrate_db:
        pending = run(
            settings, lambda engine: pending_revisions(engine, settings.database_url), upgrade=False
        )
        if pending:
            fail(
                f"the database lacks {len(pending)} schema migrations (--no-migrate): "
                "run `gatewayz db upgrade` first"
            )
    run(settings, lambda engine: _bootstrap_admin(engine, settings), upgrade=migrate_db)
    if config:
        os.environ[CONFIG_ENV] = str(config.resolve())
    os.environ["GATEWAYZ_AUTO_MIGRATE"] = "false"
    processes = workers or settings.workers
    address = host or settings.host
    listen = port if port is not None else settings.port
    drain_logs()
    sys.stdout.flush()
    sys.stderr.flush()
    # -P: the working directory (in the image, the data volume) stays off the import path
    argv = [sys.executable, "-P", "-m", "gatewayz.server", address, str(listen), str(processes)]
    os.execv(sys.executable, argv)


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
@command
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply every pending schema migration."""
    settings = settings_from(config)
    migrate.upgrade_sync(settings.database_url)
    typer.echo("database is up to date", err=True)

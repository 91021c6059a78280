"""What every `gatewayz` command shares: settings, the database, one-line errors."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger
from gatewayz.billing.revocation_channel import RevocationChannel, channel_name
from gatewayz.billing.revocations import commits_revoking
from gatewayz.settings import (
    ConfigError,
    Settings,
    load_settings,
)
from gatewayz.store import migrate
from gatewayz.store.engine import create_engine

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML config file (or GATEWAYZ_CONFIG).")
]
T = TypeVar("T")


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def settings_from(config: Path | None) -> Settings:
    overrides: dict[str, Any] = {"config": config} if config else {}
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))
        raise


def run(settings: Settings, work: Callable[[Any], Awaitable[T]], *, upgrade: bool = True) -> T:
    """Run `work(engine)` on the database (upgraded first unless `upgrade` is false), turning
    known errors into one line."""

    async def main() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with _announcing(engine, settings):
                return await work(engine)
        finally:
            await engine.dispose()

    try:
        if upgrade:
            migrate.upgrade_sync(settings.database_url)
        return asyncio.run(main())
    except (accounts.AccountError, ledger.InsufficientBalance) as exc:
        fail(str(exc) or type(exc).__name__)
        raise


@contextlib.asynccontextmanager
async def _announcing(engine: AsyncEngine, settings: Settings) -> AsyncIterator[None]:
    """With Redis, the balance decreases made here reach the running gateways' leases at
    once (without it, they read them from the database within their poll interval)."""
    if not settings.redis_url:
        yield
        return
    channel = RevocationChannel(
        settings.redis_url, channel_name(settings.limits.redis_prefix), origin=None
    )
    try:
        with commits_revoking(engine, None, channel.announce):
            yield
    finally:
        await channel.close()


def command(func: Callable[..., None]) -> Callable[..., None]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))

    return wrapper

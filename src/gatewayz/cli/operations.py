"""`gatewayz models`, `limits`, `secrets` and `holds`: running a gateway."""

from typing import Annotated, Any

import aiohttp
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import select

from gatewayz.accounts import users as accounts
from gatewayz.accounts.provider_keys import reencrypt_all
from gatewayz.accounts.secret_box import SecretBox
from gatewayz.billing.hold_owners import reclaim
from gatewayz.billing.money import format_credits
from gatewayz.cli.common import ConfigOption, command, fail, run, settings_from
from gatewayz.limits import overrides
from gatewayz.limits.settings import LimitValues
from gatewayz.providers.catalog_refresh import SyncResult, sync_providers
from gatewayz.providers.table import Provider, enabled_providers, merged_specs
from gatewayz.settings import (
    Settings,
    previous_server_secrets,
    server_secret,
)
from gatewayz.store.tables import api_keys

models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
limits_app = typer.Typer(help="Rate limits of users and keys.", no_args_is_help=True)
secrets_app = typer.Typer(help="The server secret and what it protects.", no_args_is_help=True)
holds_app = typer.Typer(help="Credit held by gateway processes.", no_args_is_help=True)


@holds_app.command("reclaim")
@command
def holds_reclaim(
    stale_seconds: Annotated[
        float | None,
        typer.Option(help="Seconds without a heartbeat after which a process counts as dead."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Give back the credit held by gateway processes that stopped without shutting down."""
    settings = settings_from(config)
    stale = settings.holds.stale_seconds if stale_seconds is None else stale_seconds
    if stale < 0:
        fail(f"--stale-seconds must be 0 or more, got {stale:g}")
    found = run(settings, lambda engine: reclaim(engine, stale))
    for item in found:
        typer.echo(
            f"{item.process_id}\tlast seen {item.last_seen:%Y-%m-%d %H:%M:%S}\t"
            f"{item.users} users\t{item.keys} keys\t{format_credits(item.units)} credits"
        )
    typer.echo(f"gave back the holds of {len(found)} stopped processes", err=True)


@models_app.command("sync")
@command
def models_sync(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    config: ConfigOption = None,
) -> None:
    """Fetch the enabled providers' model lists now and store them for every gateway."""
    settings = settings_from(config)
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

    results = run(settings, work)
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
            fail(f"unknown provider {name!r}")
        if name not in {p.name for p in listed}:
            fail(f"provider {name!r} is not enabled (set its API key)")
        targets = [p for p in targets if p.name == name]
        if not targets:
            fail(f"provider {name!r} publishes no model list")
    elif not targets:
        fail("no enabled provider publishes a model list (set a provider's API key)")
    return targets


LimitOption = Annotated[
    str | None, typer.Option(metavar="N|default", help="A limit, or 'default' for the configured.")
]


@limits_app.command("set")
@command
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
        fail("give exactly one of --user EMAIL or --key KEY_ID")
    given = {"rpm": rpm, "rpd": rpd, "tpm": tpm, "concurrency": concurrency}
    changes = {name: _limit(name, text) for name, text in given.items() if text is not None}
    if not changes:
        fail("give at least one of --rpm, --rpd, --tpm, --concurrency")
    settings = settings_from(config)

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

    values = run(settings, work)
    shown = ", ".join(f"{name} {getattr(values, name) or 'default'}" for name in overrides.FIELDS)
    typer.echo(f"limits of {f'user {user}' if user else f'key {key}'}: {shown}", err=True)


def _limit(name: str, text: str) -> int | None:
    """A limit option's value: a whole number of at least 1, or None for 'default'."""
    if text == "default":
        return None
    if not text.isdigit() or int(text) < 1:
        fail(f"--{name} must be a whole number of at least 1, or 'default'; got {text!r}")
    return int(text)


@secrets_app.command("reencrypt")
@command
def secrets_reencrypt(config: ConfigOption = None) -> None:
    """Re-encrypt users' stored provider keys under the current server secret (after rotating
    it: GATEWAYZ_SECRET new, the old one in GATEWAYZ_PREVIOUS_SECRETS)."""
    settings = settings_from(config)
    box = SecretBox(server_secret(settings), previous_server_secrets(settings))
    done, failed = run(settings, lambda engine: reencrypt_all(engine, box))
    typer.echo(f"re-encrypted {done} provider keys under the current server secret", err=True)
    if failed:
        fail(
            f"{failed} provider keys open with neither the current nor any previous secret "
            "(add the secret they were stored under to GATEWAYZ_PREVIOUS_SECRETS)"
        )

"""`gatewayz users`, `keys` and `credits`: accounts from the command line, audited."""

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from gatewayz.accounts import audit, roles
from gatewayz.accounts import users as accounts
from gatewayz.accounts.audit import AuditEvent
from gatewayz.accounts.roles import ADMIN_ROLE, USER_ROLE
from gatewayz.billing import ledger
from gatewayz.billing.adjustments import AdjustmentRefused, adjust_credits
from gatewayz.billing.money import credits_to_units, format_credits
from gatewayz.cli.common import ConfigOption, command, fail, run, settings_from
from gatewayz.errors import GatewayError
from gatewayz.settings import (
    server_secret,
)

users_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Credits.", no_args_is_help=True)


@users_app.command("create")
@command
def users_create(
    email: str,
    credits: Annotated[str, typer.Option(help="Starting credits (USD).")] = "0",
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    config: ConfigOption = None,
) -> None:
    """Create a user."""
    amount = _amount(credits, allow_zero=True)
    settings = settings_from(config)

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

    run(settings, work)


@users_app.command("role")
@command
def users_role(email: str, role: str, config: ConfigOption = None) -> None:
    """Give a user a role (admin, user or a custom role); audited as role.changed."""
    settings = settings_from(config)

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

    old = run(settings, work)
    typer.echo(f"{email}: role {old} -> {role}", err=True)


@keys_app.command("create")
@command
def keys_create(
    email: str,
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "default",
    config: ConfigOption = None,
) -> None:
    """Create an API key; prints only the key, once."""
    settings = settings_from(config)
    secret = server_secret(settings)

    async def work(engine: Any) -> str:
        user = await accounts.get_user(engine, email=email)
        key = await accounts.create_key(engine, secret, user.id, name)
        await _operator_event(engine, "key.created", "user", user.id, name=name)
        return key

    typer.echo(run(settings, work))


@keys_app.command("list")
@command
def keys_list(email: str, config: ConfigOption = None) -> None:
    """List a user's keys (id, name, prefix, state); never the keys themselves."""
    settings = settings_from(config)

    async def work(engine: Any) -> list[accounts.KeyInfo]:
        user = await accounts.get_user(engine, email=email)
        return await accounts.list_keys(engine, user.id)

    for key in run(settings, work):
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        typer.echo(f"{key.id}\t{key.name}\t{key.display_prefix}…\t{state}")


@keys_app.command("revoke")
@command
def keys_revoke(email: str, key_id: int, config: ConfigOption = None) -> None:
    """Revoke one of a user's keys (gateways stop accepting it within the auth cache time)."""
    settings = settings_from(config)

    async def work(engine: Any) -> None:
        user = await accounts.get_user(engine, email=email)
        await accounts.revoke_key(engine, user.id, key_id)
        await _operator_event(engine, "key.revoked", "api_key", key_id, user_id=str(user.id))

    run(settings, work)
    typer.echo(f"revoked key {key_id}", err=True)


@credits_app.command("add", context_settings={"ignore_unknown_options": True})
@command
def credits_add(
    email: str,
    amount: str,
    reason: Annotated[str, typer.Option(help="Why, for the ledger.")] = "added by an operator",
    config: ConfigOption = None,
) -> None:
    """Add credits (USD) to a user's balance."""
    units = _amount(amount, allow_zero=False)
    settings = settings_from(config)

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
            await _audit_adjustment(conn, user.id, units, reason)
        return change

    change = run(settings, work)
    typer.echo(f"balance of {email}: {format_credits(change.balance_after_units)}", err=True)


@credits_app.command("remove", context_settings={"ignore_unknown_options": True})
@command
def credits_remove(
    email: str,
    amount: str,
    reason: Annotated[str, typer.Option(help="Why, for the ledger.")] = "removed by an operator",
    config: ConfigOption = None,
) -> None:
    """Remove credits (USD) from a user's balance (never more than it holds)."""
    units = _amount(amount, allow_zero=False)
    settings = settings_from(config)

    async def work(engine: Any) -> ledger.CreditChange:
        user = await accounts.get_user(engine, email=email)
        try:
            async with engine.begin() as conn:
                change = await adjust_credits(conn, user.id, -units, reason, None)
                await _audit_adjustment(conn, user.id, -units, reason)
        except AdjustmentRefused as exc:
            fail(str(exc))
            raise
        return change

    change = run(settings, work)
    typer.echo(f"balance of {email}: {format_credits(change.balance_after_units)}", err=True)


async def _audit_adjustment(conn: Any, user_id: int, units: int, reason: str) -> None:
    """Audit, in the change's transaction, credits an operator added or removed."""
    details = {"amount": format_credits(units), "reason": reason, "via": "cli"}
    await audit.record(
        conn,
        AuditEvent("credits.adjusted", target_type="user", target_id=str(user_id), details=details),
    )


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
        fail(f"{text!r} is not a number")
        raise
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        fail(f"amount must be {'zero or more' if allow_zero else 'more than zero'}, got {text}")
    try:
        return credits_to_units(value)
    except ValueError as exc:
        fail(str(exc))
        raise

"""The caller's API keys: GET/POST /user/api-keys, GET/PATCH/DELETE /user/api-keys/{id},
POST /user/api-keys/{id}/rotate. A key is shown in full only in the answer that creates it.
"""

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import audit, key_store
from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.key_bounds import Bounds, loosened
from gatewayz.accounts.key_checks import audit_denial, rotated_out
from gatewayz.accounts.key_policy import parse_networks, parse_referrers, parse_scopes
from gatewayz.api.admin_params import RowId, Text
from gatewayz.api.deps import ServicesDep
from gatewayz.app_services import Services
from gatewayz.billing.money import credits_to_units, format_credits
from gatewayz.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from gatewayz.limits.overrides import FIELDS as LIMIT_FIELDS
from gatewayz.limits.settings import LimitValues
from gatewayz.notify.notices import Notifier
from gatewayz.settings import server_secret
from gatewayz.store.times import iso

router = APIRouter(prefix="/user/api-keys", tags=["api keys"])
Caller = Annotated[Principal, Depends(current_principal)]
T = TypeVar("T")
_LISTS = {"scopes": parse_scopes, "ip_allowlist": parse_networks, "referrers": parse_referrers}
_MAX_DAYS = 3650
_MAX_RATE = 2**31 - 1  # the largest limit the database stores


class KeyLimits(LimitValues):
    """A key's rate limits, each at most what the database stores."""

    rpm: int | None = Field(default=None, ge=1, le=_MAX_RATE, description="Requests per minute.")
    rpd: int | None = Field(default=None, ge=1, le=_MAX_RATE, description="Requests per day.")
    tpm: int | None = Field(default=None, ge=1, le=_MAX_RATE, description="Tokens per minute.")
    concurrency: int | None = Field(default=None, ge=1, le=_MAX_RATE, description="Calls at once.")


class Restrictions(BaseModel):
    """What a key may do; a field left out is unchanged (PATCH) or unrestricted (POST)."""

    model_config = ConfigDict(extra="forbid")

    scopes: list[str] | None = Field(default=None, max_length=20)
    expires_at: datetime | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=_MAX_DAYS)
    ip_allowlist: list[str] | None = Field(default=None, max_length=100)
    referrers: list[str] | None = Field(default=None, max_length=100)
    spend_limit: Decimal | None = Field(default=None, ge=0, le=10**9)
    rate_limits: KeyLimits | None = None


class NewKey(Restrictions):
    name: Text = Field(default="default", min_length=1, max_length=200)
    environment: Literal["live", "test"] = "live"


class KeyChanges(Restrictions):
    name: Text | None = Field(default=None, min_length=1, max_length=200)


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int | None = Field(default=None, ge=0)


@router.get("")
async def list_keys(services: ServicesDep, caller: Caller) -> dict[str, Any]:
    """Every key of the caller's account (revoked and expired ones too), never the secrets."""
    records = await key_store.list_records(services.engine, caller.user_id)
    now = datetime.now(UTC)
    return {"data": [_view(record, now) for record in records]}


@router.post("", status_code=201)
async def create_key(
    request: Request, services: ServicesDep, caller: Caller, body: NewKey
) -> dict[str, Any]:
    """Create a key; the answer holds the key itself, shown this once."""
    columns = _columns(body)
    limits = _limits(body)
    held = await _caller_bounds(request, services.engine, caller)
    if held.spend_limit_units is not None:
        audit_denial(request, caller.user_id, caller.key_id, "spend_limit")
        raise _refused("spend_limit", "A key with a spending limit cannot create keys.")
    _within(request, caller, held, Bounds().changed(columns, limits))
    key, record = await _stored(
        key_store.create(
            services.engine,
            server_secret(services.settings),
            _actor(request, caller),
            name=body.name,
            environment=body.environment,
            restrictions=columns,
            limits=limits,
            max_keys=services.settings.keys.max_keys_per_user,
        )
    )
    await _after_change(services, record.id, body.rate_limits is not None)
    await _notify_created(services.notifier, caller, record)
    return {"key": key, **_view(record, datetime.now(UTC))}


@router.get("/{key_id}")
async def get_key(services: ServicesDep, caller: Caller, key_id: RowId) -> dict[str, Any]:
    record = await _stored(key_store.get_record(services.engine, caller.user_id, key_id))
    return _view(record, datetime.now(UTC))


@router.patch("/{key_id}")
async def update_key(
    request: Request, services: ServicesDep, caller: Caller, key_id: RowId, body: KeyChanges
) -> dict[str, Any]:
    """Change the name and any restriction; a field set to null clears that restriction."""
    engine = services.engine
    current = await _stored(key_store.get_record(engine, caller.user_id, key_id))
    changes = _columns(body)
    if "name" in body.model_fields_set:
        if body.name is None:
            raise InvalidRequest("name: a key's name cannot be cleared.", param="name")
        changes["name"] = body.name
    limits = _limits(body)
    held = await _caller_bounds(request, services.engine, caller)
    _within(request, caller, held, Bounds.of(current).changed(changes, limits))
    if (
        held.spend_limit_units is not None
        and "spend_limit_units" in changes
        and _raises(current.spend_limit_units, changes["spend_limit_units"])
    ):
        raise _refused("spend_limit", "A key with a spending limit cannot raise one.")
    record = await _stored(
        key_store.update_key(engine, _actor(request, caller), key_id, changes, limits)
    )
    await _after_change(services, key_id, limits is not None)
    return _view(record, datetime.now(UTC))


@router.delete("/{key_id}")
async def revoke_key(
    request: Request, services: ServicesDep, caller: Caller, key_id: RowId
) -> dict[str, Any]:
    """Revoke the key: it is refused (401) from now on."""
    await _caller_bounds(request, services.engine, caller)
    actor = _actor(request, caller)
    record = await _stored(key_store.revoke(services.engine, actor, key_id))
    await _after_change(services, key_id, False)
    return _view(record, datetime.now(UTC))


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(
    request: Request,
    services: ServicesDep,
    caller: Caller,
    key_id: RowId,
    body: Annotated[Rotation | None, Body()] = None,
) -> dict[str, Any]:
    """Replace the key by a new one with the same settings, shown this once; the old key keeps
    working for `grace_seconds` (default from the `keys.rotation_grace_seconds` setting)."""
    settings = services.settings.keys
    asked = body.grace_seconds if body is not None else None
    grace = settings.rotation_grace_seconds if asked is None else asked
    if grace > settings.max_rotation_grace_seconds:
        raise InvalidRequest(
            f"grace_seconds: at most {settings.max_rotation_grace_seconds}.",
            param="grace_seconds",
        )
    current = await _stored(key_store.get_record(services.engine, caller.user_id, key_id))
    _within(
        request, caller, await _caller_bounds(request, services.engine, caller), Bounds.of(current)
    )
    key, record = await _stored(
        key_store.rotate(
            services.engine,
            server_secret(services.settings),
            _actor(request, caller),
            key_id,
            grace,
        )
    )
    await _after_change(services, key_id, record.rate_limits is not None)
    await _notify_created(services.notifier, caller, record)
    old = await key_store.get_record(services.engine, caller.user_id, key_id)
    now = datetime.now(UTC)
    return {"key": key, **_view(record, now), "previous_key": _view(old, now)}


def _columns(body: Restrictions) -> dict[str, Any]:
    """The stored columns for the restrictions present in the body; 400 names a bad field."""
    given = body.model_fields_set
    columns: dict[str, Any] = {}
    for field, parse in _LISTS.items():
        if field in given:
            entries = getattr(body, field)
            if field == "scopes" and entries == []:
                raise InvalidRequest(
                    "scopes: give at least one scope, or null for every scope.", param="scopes"
                )
            try:
                columns[field] = orjson.dumps(parse(entries)).decode() if entries else None
            except ValueError as exc:
                raise InvalidRequest(f"{field}: {exc}.", param=field) from None
    if "expires_at" in given or "expires_in_days" in given:
        columns["expires_at"] = _expiry(body)
    if "spend_limit" in given:
        try:
            limit = body.spend_limit
            columns["spend_limit_units"] = None if limit is None else credits_to_units(limit)
        except ValueError as exc:
            raise InvalidRequest(f"spend_limit: {exc}.", param="spend_limit") from None
    return columns


def _expiry(body: Restrictions) -> datetime | None:
    if body.expires_at is not None and body.expires_in_days is not None:
        raise InvalidRequest(
            "expires_at: give expires_at or expires_in_days, not both.", param="expires_at"
        )
    now = datetime.now(UTC)
    if body.expires_in_days is not None:
        return now + timedelta(days=body.expires_in_days)
    given = body.expires_at
    if given is None:
        return None
    try:
        expires_at = (given if given.tzinfo else given.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise InvalidRequest("expires_at: out of range.", param="expires_at") from None
    if expires_at <= now:
        raise InvalidRequest("expires_at: must be in the future.", param="expires_at")
    if expires_at > now + timedelta(days=_MAX_DAYS):
        raise InvalidRequest(f"expires_at: at most {_MAX_DAYS} days ahead.", param="expires_at")
    return expires_at


def _limits(body: Restrictions) -> dict[str, int | None] | None:
    """The rate limit changes: the fields given, every limit cleared for null, or None."""
    if "rate_limits" not in body.model_fields_set:
        return None
    if body.rate_limits is None:
        return dict.fromkeys(LIMIT_FIELDS)
    return {name: getattr(body.rate_limits, name) for name in body.rate_limits.model_fields_set}


async def _caller_bounds(request: Request, engine: AsyncEngine, caller: Principal) -> Bounds:
    """The restrictions of the key making a change, read afresh: a key rotated out manages no
    keys (403), also when another process still has it cached as it was before; a revoked
    one is refused (401)."""
    record = await key_store.get_record(engine, caller.user_id, caller.key_id)
    if record.revoked_at is not None:
        raise AuthenticationFailed("Invalid API key.")
    if caller.policy.rotated or record.replaced_by is not None:
        audit_denial(request, caller.user_id, caller.key_id, "rotated")
        raise rotated_out()
    return Bounds.of(record)


def _within(request: Request, caller: Principal, held: Bounds, wanted: Bounds) -> None:
    """A restricted key cannot give (or keep on a key it changes or rotates) any restriction
    looser than its own: a leaked key cannot be turned into a less restricted one. A refusal
    is audited like any other restriction hit."""
    restriction = loosened(held, wanted)
    if restriction is None:
        return
    audit_denial(request, caller.user_id, caller.key_id, restriction)
    detail = ""
    if restriction == "scopes" and held.scopes is not None:
        beyond = sorted(wanted.scopes - held.scopes) if wanted.scopes is not None else ["(all)"]
        detail = f" (scopes it does not hold: {', '.join(beyond)})"
    raise _refused(
        restriction,
        f"This API key cannot manage a key with a looser '{restriction}' restriction than "
        f"its own{detail}.",
    )


def _raises(current: int | None, wanted: int | None) -> bool:
    return wanted is None or (current is not None and wanted > current)


def _refused(restriction: str, message: str) -> PermissionDenied:
    return PermissionDenied(message, code=f"key_{restriction}")


async def _stored(work: Awaitable[T]) -> T:
    """The store's answer, its refusals as 404 or 409."""
    try:
        return await work
    except key_store.KeyNotFound as exc:
        raise NotFound(str(exc), param="id") from None
    except key_store.KeyStateError as exc:
        raise Conflict(str(exc)) from None


async def _after_change(services: Services, key_id: int, limits_changed: bool) -> None:
    """Make this process use the key's new state at once (others within their cache time)."""
    services.authenticator.forget(key_id)
    if limits_changed:
        await services.limiter.reload_overrides()


async def _notify_created(
    notifier: Notifier, caller: Principal, record: key_store.KeyRecord
) -> None:
    await notifier.notify(
        "key_created",
        recipient=caller.email,
        user_id=caller.user_id,
        dedupe_key=f"key_created:{record.id}",
        name=record.name,
        prefix=record.display_prefix,
    )


def _actor(request: Request, caller: Principal) -> key_store.Actor:
    return key_store.Actor(caller.user_id, caller.key_id, audit.source_ip(request))


def _view(record: key_store.KeyRecord, now: datetime) -> dict[str, Any]:
    """A key as the API shows it: everything but the secret."""
    return {
        "id": record.id,
        "name": record.name,
        "environment": record.environment,
        "prefix": record.display_prefix,
        "status": record.status(now),
        "scopes": record.scopes,
        "expires_at": iso(record.expires_at),
        "ip_allowlist": record.ip_allowlist,
        "referrers": record.referrers,
        "spend_limit": (
            None if record.spend_limit_units is None else format_credits(record.spend_limit_units)
        ),
        "spent": format_credits(record.spent_units),
        "rate_limits": record.rate_limits.model_dump() if record.rate_limits else None,
        "created_at": iso(record.created_at),
        "revoked_at": iso(record.revoked_at),
        "replaced_by": record.replaced_by,
    }

"""Users, for administrators: search and list (`users:read`), read one, create one
(`users:write`; giving the new user a role other than `user` also needs `roles:manage`, and
starting credits `credits:adjust`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import account_details, audit, user_search
from gatewayz.accounts import users as accounts
from gatewayz.accounts.auth import Principal
from gatewayz.accounts.enrolment import enrol
from gatewayz.accounts.permissions import (
    has_permission,
    may_grant_credits,
    require_permission,
    require_to_grant,
    within_own,
)
from gatewayz.accounts.roles import USER_ROLE, ensure_role, get_role
from gatewayz.api import account_views as view
from gatewayz.api.acting import admin_event
from gatewayz.api.admin_params import Offset, RowId, Text, parse_credits
from gatewayz.api.deps import EngineDep, ServicesDep
from gatewayz.billing.money import format_credits
from gatewayz.errors import InvalidRequest, PermissionDenied
from gatewayz.settings import server_secret

router = APIRouter(prefix="/admin", tags=["admin"])

Reader = Annotated[Principal, Depends(require_permission("users:read"))]
Writer = Annotated[Principal, Depends(require_permission("users:write"))]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Text = Field(min_length=3, max_length=320)
    role: Text = Field(default=USER_ROLE, min_length=1, max_length=64)
    credits: str = Field(default="0", description="Starting credits, a decimal string.")
    create_key: bool = False
    key_name: Text = Field(default="default", min_length=1, max_length=200)


@router.get("/users")
async def list_users(
    engine: EngineDep,
    _: Reader,
    q: Annotated[Text | None, Query(max_length=320, description="Email part or user id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Users whose email contains `q` or whose id is `q`, by id, with the total count."""
    async with engine.connect() as conn:
        page = await user_search.search_users(conn, q, limit, offset)
    return {
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "data": [view.user_summary(u) for u in page.users],
    }


@router.get("/users/{user_id}")
async def get_user(engine: EngineDep, user_id: RowId, _: Reader) -> dict[str, Any]:
    """One user's account, plan, trial and keys (never a key itself)."""
    return await _detail(engine, user_id)


@router.post("/users", status_code=201)
async def create_user(
    request: Request, services: ServicesDep, body: NewUser, actor: Writer
) -> dict[str, Any]:
    """Create a user with a role and starting credits; with `create_key`, also a key, which
    the response shows this once. A refusal creates nothing."""
    if body.role != USER_ROLE and not has_permission(actor, "roles:manage"):
        raise PermissionDenied("Giving a new user a role needs the 'roles:manage' permission.")
    units = parse_credits(body.credits, "credits")
    if units < 0:
        raise InvalidRequest("credits: must not be negative.", param="credits")
    if units:
        require_to_grant(actor, "Giving a new user starting credits")
    engine = services.engine
    async with engine.begin() as conn:
        await ensure_role(conn, body.role)
        within_own(actor, (await get_role(conn, body.role)).permissions)
        user_id = await enrol(
            conn, body.email, body.role, units, trial_offered=may_grant_credits(actor)
        )
        details = {
            "email": body.email.strip().lower(),
            "role": body.role,
            "credits": format_credits(units),
            "key_created": body.create_key,
        }
        await audit.record(
            conn, admin_event(request, actor, "user.created", "user", user_id, **details)
        )
    if not body.create_key:
        return await _detail(engine, user_id)
    secret = server_secret(services.settings)
    key = await accounts.create_key(engine, secret, user_id, body.key_name)
    return {**await _detail(engine, user_id), "api_key": key}


async def _detail(engine: AsyncEngine, user_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        found = await account_details.account(conn, user_id)
        keys = await account_details.keys_of(conn, user_id)
    return {
        **view.account(found),
        "referred_by": found.referred_by,
        "keys": [view.key(k) for k in keys],
    }

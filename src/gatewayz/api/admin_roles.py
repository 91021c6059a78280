"""Roles: list, create, change and delete custom roles, and give users a role.

Everything here needs `roles:manage`; assigning a role does too (not `users:write`), since a
role grants permissions and `users:write` alone must not be a way to become admin. Nobody can
grant, take away or hand out permissions they do not hold themselves (`within_own`), so
`roles:manage` alone is not a way to become admin either.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from gatewayz.accounts import audit
from gatewayz.accounts import roles as role_store
from gatewayz.accounts.auth import Principal
from gatewayz.accounts.permissions import require_permission, within_own
from gatewayz.accounts.roles import PERMISSIONS, Role
from gatewayz.api.acting import admin_event
from gatewayz.api.admin_params import RowId, Text
from gatewayz.api.deps import AuthenticatorDep, EngineDep
from gatewayz.errors import InvalidRequest

router = APIRouter(prefix="/admin", tags=["admin"])

Manager = Annotated[Principal, Depends(require_permission("roles:manage"))]
RoleName = Annotated[Text, Path(max_length=64)]


class NewRole(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=64)
    description: Text | None = Field(default=None, max_length=1000)
    permissions: list[str] = Field(default_factory=list)


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Text | None = Field(default=None, max_length=1000)
    permissions: list[str] | None = None


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Text = Field(min_length=1, max_length=64)


def role_view(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "description": role.description,
        "builtin": role.builtin,
        "permissions": sorted(role.permissions),
        "users": role.holders,
    }


@router.get("/roles")
async def list_roles(engine: EngineDep, _: Manager) -> dict[str, Any]:
    """Every role with its permissions and holder count, and every known permission."""
    async with engine.connect() as conn:
        found = await role_store.list_roles(conn)
    return {
        "roles": [role_view(role) for role in found],
        "permissions": [{"name": name, "description": text} for name, text in PERMISSIONS.items()],
    }


@router.post("/roles", status_code=201)
async def create_role(
    request: Request, engine: EngineDep, body: NewRole, actor: Manager
) -> dict[str, Any]:
    """A new custom role (400 for an unknown permission, 409 if the name is taken)."""
    within_own(actor, role_store.known_permissions(body.permissions))
    async with engine.begin() as conn:
        role = await role_store.create_role(conn, body.name, body.description, body.permissions)
        await audit.record(
            conn,
            admin_event(request, actor, "role.created", "role", role.name, **_audited(role)),
        )
    return role_view(role)


@router.patch("/roles/{name}")
async def update_role(
    request: Request,
    engine: EngineDep,
    authenticator: AuthenticatorDep,
    name: RoleName,
    body: RoleChange,
    actor: Manager,
) -> dict[str, Any]:
    """Change a custom role's description and/or permissions; holders get them at once."""
    changes: dict[str, Any] = {}
    if "description" in body.model_fields_set:
        changes["description"] = body.description
    if body.permissions is not None:
        changes["permissions"] = body.permissions
    if not changes:
        raise InvalidRequest("Give a description and/or permissions to change.")
    async with engine.begin() as conn:
        before, after = await role_store.update_role(conn, name, **changes)
        within_own(actor, before.permissions | after.permissions)
        await audit.record(
            conn,
            admin_event(
                request,
                actor,
                "role.updated",
                "role",
                name,
                before=_audited(before),
                after=_audited(after),
            ),
        )
    authenticator.forget_all()
    return role_view(after)


@router.delete("/roles/{name}")
async def delete_role(
    request: Request,
    engine: EngineDep,
    authenticator: AuthenticatorDep,
    name: RoleName,
    actor: Manager,
) -> dict[str, Any]:
    """Delete a custom role (409 while users hold it)."""
    async with engine.begin() as conn:
        role = await role_store.delete_role(conn, name)
        within_own(actor, role.permissions)
        await audit.record(
            conn, admin_event(request, actor, "role.deleted", "role", name, **_audited(role))
        )
    authenticator.forget_all()
    return {"name": name, "deleted": True}


@router.put("/users/{user_id}/role")
async def assign_role(
    request: Request,
    engine: EngineDep,
    authenticator: AuthenticatorDep,
    user_id: RowId,
    body: RoleAssignment,
    actor: Manager,
) -> dict[str, Any]:
    """Give a user a role (400 unknown role, 409 if it would leave no admin)."""
    async with engine.begin() as conn:
        await role_store.ensure_role(conn, body.role)
        within_own(actor, (await role_store.get_role(conn, body.role)).permissions)
        old = await role_store.assign_role(conn, user_id, body.role)
        within_own(actor, (await role_store.get_role(conn, old)).permissions)
        await audit.record(
            conn,
            admin_event(
                request,
                actor,
                "role.changed",
                "user",
                user_id,
                old_role=old,
                new_role=body.role,
            ),
        )
    authenticator.forget_all()
    return {"user_id": user_id, "role": body.role, "previous_role": old}


def _audited(role: Role) -> dict[str, Any]:
    """The role's description and permissions, as audit details."""
    return {"description": role.description, "permissions": sorted(role.permissions)}

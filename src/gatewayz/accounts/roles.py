"""Roles and the permissions they grant.

Two roles are built in: `admin` holds every permission and `user` holds none (a user can
always manage their own account). Operators define custom roles (the `roles` table) as a
name and a set of the permissions below.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.errors import Conflict, InvalidRequest, NotFound
from gatewayz.store.tables import roles, users

PERMISSIONS: dict[str, str] = {
    "monitoring:read": "Read monitoring endpoints and provider health.",
    "users:read": "List and search users and read their accounts.",
    "users:write": (
        "Create users (with a role other than user, roles:manage too; with starting credits, "
        "credits:adjust too; users it creates without credits:adjust get no free trial)."
    ),
    "credits:adjust": "Add or remove a user's credits, with a reason.",
    "usage:read": "Read usage analytics across all users.",
    "roles:manage": "Create, change and delete custom roles.",
    "plans:manage": (
        "Create plans and assign, change or cancel users' plans (assigning a plan with an "
        "allowance, or raising what a plan grants, credits:adjust too)."
    ),
    "coupons:manage": "List and disable coupons (creating one, credits:adjust too).",
    "audit:read": "Read the audit log.",
}
ADMIN_ROLE = "admin"
USER_ROLE = "user"
BUILTIN_ROLES: dict[str, frozenset[str]] = {
    ADMIN_ROLE: frozenset(PERMISSIONS),
    USER_ROLE: frozenset(),
}


def role_permissions(role: str, stored: str | None) -> frozenset[str]:
    """The permissions of `role`: built in, or those stored for a custom role (JSON list)."""
    if role in BUILTIN_ROLES:
        return BUILTIN_ROLES[role]
    if not stored:
        return frozenset()
    return frozenset(name for name in orjson.loads(stored) if name in PERMISSIONS)


_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Role:
    """A role, its permissions and how many users hold it."""

    name: str
    description: str | None
    permissions: frozenset[str]
    builtin: bool
    holders: int


_BUILTIN_DESCRIPTIONS = {
    ADMIN_ROLE: "Every permission.",
    USER_ROLE: "No administrative permission; manages only their own account.",
}


def known_permissions(names: Iterable[str]) -> frozenset[str]:
    """`names` as a set, or a 400 naming the first permission that does not exist."""
    chosen = frozenset(names)
    for name in sorted(chosen):
        if name not in PERMISSIONS:
            raise InvalidRequest(
                f"permissions: unknown permission '{name}'; known: {', '.join(PERMISSIONS)}",
                param="permissions",
            )
    return chosen


async def list_roles(conn: AsyncConnection) -> list[Role]:
    """The built-in roles, then the custom ones by name."""
    counts: dict[str, int] = dict(
        (await conn.execute(select(users.c.role, func.count()).group_by(users.c.role))).all()
    )
    out = [
        Role(name, _BUILTIN_DESCRIPTIONS[name], granted, True, int(counts.get(name, 0)))
        for name, granted in BUILTIN_ROLES.items()
    ]
    query = select(roles.c.name, roles.c.description, roles.c.permissions).order_by(roles.c.name)
    for name, description, stored in (await conn.execute(query)).all():
        granted = role_permissions(name, stored)
        out.append(Role(name, description, granted, False, int(counts.get(name, 0))))
    return out


async def get_role(conn: AsyncConnection, name: str, *, lock: bool = False) -> Role:
    """One role (404 if it does not exist), optionally locking a custom role's row."""
    if name in BUILTIN_ROLES:
        return Role(name, _BUILTIN_DESCRIPTIONS[name], BUILTIN_ROLES[name], True, 0)
    query = select(roles.c.description, roles.c.permissions).where(roles.c.name == name)
    row = (await conn.execute(_locked(conn, query) if lock else query)).first()
    if row is None:
        raise NotFound(f"No role named '{name}'.")
    holders = await conn.scalar(select(func.count()).where(users.c.role == name))
    return Role(name, row[0], role_permissions(name, row[1]), False, int(holders or 0))


async def create_role(
    conn: AsyncConnection, name: str, description: str | None, permissions: Iterable[str]
) -> Role:
    """A new custom role; 400 for a bad name or permission, 409 if the name is taken."""
    if not _ROLE_NAME.match(name):
        raise InvalidRequest(
            "name: a role name is 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter.",
            param="name",
        )
    granted = known_permissions(permissions)
    if name in BUILTIN_ROLES:
        raise Conflict(f"'{name}' is a built-in role.", param="name")
    try:
        await conn.execute(
            roles.insert().values(name=name, description=description, permissions=_stored(granted))
        )
    except IntegrityError:
        raise Conflict(f"A role named '{name}' already exists.", param="name") from None
    return Role(name, description, granted, False, 0)


class _Keep:
    """The value of an argument left out: keep what is stored."""


KEEP = _Keep()


async def update_role(
    conn: AsyncConnection,
    name: str,
    *,
    description: str | _Keep | None = KEEP,
    permissions: Iterable[str] | None = None,
) -> tuple[Role, Role]:
    """Change a custom role's description and/or permissions; returns (before, after)."""
    if name in BUILTIN_ROLES:
        raise Conflict(f"'{name}' is a built-in role and cannot be changed.", param="name")
    before = await get_role(conn, name, lock=True)
    after = before
    if not isinstance(description, _Keep):
        after = replace(after, description=description)
    if permissions is not None:
        after = replace(after, permissions=known_permissions(permissions))
    await conn.execute(
        update(roles)
        .where(roles.c.name == name)
        .values(description=after.description, permissions=_stored(after.permissions))
    )
    return before, after


async def delete_role(conn: AsyncConnection, name: str) -> Role:
    """Delete a custom role nobody holds (409 while users hold it)."""
    if name in BUILTIN_ROLES:
        raise Conflict(f"'{name}' is a built-in role and cannot be deleted.", param="name")
    role = await get_role(conn, name, lock=True)
    if role.holders:
        raise Conflict(
            f"{role.holders} user(s) hold the role '{name}': give them another role first."
        )
    await conn.execute(delete(roles).where(roles.c.name == name))
    return role


async def ensure_role(conn: AsyncConnection, role: str) -> None:
    """400 unless `role` exists; a custom role's row stays locked until the transaction ends,
    so it cannot be deleted while it is being given to someone."""
    known = select(roles.c.id).where(roles.c.name == role)
    if role not in BUILTIN_ROLES and await conn.scalar(_locked(conn, known)) is None:
        raise InvalidRequest(f"role: unknown role '{role}'.", param="role")


async def assign_role(conn: AsyncConnection, user_id: int, role: str) -> str:
    """Give the user `role` and return their previous role.

    400 for an unknown role, 404 for an unknown user, 409 when this would leave no admin.
    """
    await ensure_role(conn, role)
    # The user and every admin, locked in id order: concurrent changes cannot deadlock, and
    # two admins cannot demote each other at once.
    query = select(users.c.id, users.c.role).where(
        or_(users.c.id == user_id, users.c.role == ADMIN_ROLE)
    )
    current = dict((await conn.execute(_locked(conn, query.order_by(users.c.id)))).all())
    if user_id not in current:
        raise NotFound(f"No user with id {user_id}.")
    old = current[user_id]
    admins = sum(1 for held in current.values() if held == ADMIN_ROLE)
    if old == ADMIN_ROLE and role != ADMIN_ROLE and admins <= 1:
        raise Conflict("This is the last admin: make another user admin first.", param="role")
    await conn.execute(update(users).where(users.c.id == user_id).values(role=role))
    return str(old)


def _locked(conn: AsyncConnection, query: Any) -> Any:
    """`query` locking its rows until the transaction ends (SQLite's write lock does that)."""
    return query if conn.dialect.name == "sqlite" else query.with_for_update()


def _stored(permissions: frozenset[str]) -> str:
    return orjson.dumps(sorted(permissions)).decode()

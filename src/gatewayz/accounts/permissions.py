"""Permissions: admin endpoints depend on `require_permission("name")`, never on a role name.

Adding credits to a balance needs `credits:adjust` on every path that can do it (starting
credits, adjustments, plan allowances, coupons), whatever other permission the path needs:
`may_grant_credits` and `require_to_grant` are that one rule."""

from collections.abc import Awaitable, Callable, Iterable

from fastapi import Request

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.roles import PERMISSIONS
from gatewayz.errors import PermissionDenied

GRANT_PERMISSION = "credits:adjust"


def has_permission(principal: Principal, permission: str) -> bool:
    return permission in principal.permissions


def may_grant_credits(principal: Principal) -> bool:
    return has_permission(principal, GRANT_PERMISSION)


def require_to_grant(principal: Principal, what: str) -> None:
    """403 naming `credits:adjust` unless the caller holds it: `what` adds credits."""
    if not may_grant_credits(principal):
        raise PermissionDenied(
            f"{what} adds credits, which needs the '{GRANT_PERMISSION}' permission."
        )


def require_permission(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller, who must hold `permission` (403 otherwise)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not has_permission(principal, permission):
            raise PermissionDenied(f"This endpoint needs the '{permission}' permission.")
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def within_own(actor: Principal, permissions: Iterable[str]) -> None:
    """403 naming the permissions the actor would grant, take away or hand out without
    holding them: nobody can give themselves (or anyone) more than they have."""
    beyond = sorted(set(permissions) - actor.permissions)
    if beyond:
        raise PermissionDenied(
            f"You cannot grant or take away permissions you do not hold: {', '.join(beyond)}."
        )

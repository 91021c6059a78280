"""Permissions: what a principal may do. Today every permission belongs to administrators.

Endpoints depend on `require_permission("name")`, never on the admin flag, so that a roles
table can later grant permissions to other users by changing `has_permission` alone.
"""

from collections.abc import Awaitable, Callable

from fastapi import Request

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.errors import PermissionDenied

PERMISSIONS = frozenset({"monitoring:read"})


def has_permission(principal: Principal, permission: str) -> bool:
    """Whether `principal` holds `permission` (administrators hold them all)."""
    return principal.is_admin


def require_permission(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller, who must hold `permission` (403 otherwise)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not has_permission(principal, permission):
            raise PermissionDenied(f"This endpoint needs the '{permission}' permission.")
        return principal

    return dependency

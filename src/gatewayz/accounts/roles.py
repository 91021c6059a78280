"""Roles and the permissions they grant.

Two roles are built in: `admin` holds every permission and `user` holds none (a user can
always manage their own account). Operators define custom roles (the `roles` table) as a
name and a set of the permissions below.
"""

import orjson

PERMISSIONS: dict[str, str] = {
    "monitoring:read": "Read monitoring endpoints and provider health.",
    "users:read": "List and search users and read their accounts.",
    "users:write": "Create users and change their role.",
    "credits:adjust": "Add or remove a user's credits, with a reason.",
    "usage:read": "Read usage analytics across all users.",
    "roles:manage": "Create, change and delete custom roles.",
    "plans:manage": "Create plans and assign, change or cancel users' plans.",
    "coupons:manage": "Create, list and disable coupons.",
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

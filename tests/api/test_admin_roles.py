"""The role endpoints over HTTP: custom roles, role assignment, audit, immediate effect."""

from typing import Any

from sqlalchemy import select

from gatewayz.accounts.roles import PERMISSIONS
from gatewayz.store.tables import audit_logs, users
from tests.api.admin_support import Site, error_of, site  # noqa: F401


async def _audit(site: Site, event: str) -> list[dict[str, Any]]:  # noqa: F811
    async with site.engine.connect() as conn:
        rows = await conn.execute(select(audit_logs).where(audit_logs.c.event == event))
    return [dict(row._mapping) for row in rows]


async def test_roles_are_listed_with_every_permission_and_its_description(
    site: Site,  # noqa: F811
) -> None:
    response = await site.admin.get("/admin/roles")
    assert response.status_code == 200
    body = response.json()
    assert body["permissions"] == [
        {"name": name, "description": text} for name, text in PERMISSIONS.items()
    ]
    admin, user = body["roles"]
    assert (admin["name"], admin["builtin"], admin["users"]) == ("admin", True, 1)
    assert admin["permissions"] == sorted(PERMISSIONS)
    assert (user["name"], user["permissions"], user["users"]) == ("user", [], 1)


async def test_bad_roles_are_refused_with_the_reason(site: Site) -> None:  # noqa: F811
    unknown = await site.admin.post(
        "/admin/roles", json={"name": "support", "permissions": ["users:read", "root"]}
    )
    assert unknown.status_code == 400
    assert error_of(unknown)["param"] == "permissions"
    assert "'root'" in error_of(unknown)["message"]
    builtin = await site.admin.post("/admin/roles", json={"name": "admin", "permissions": []})
    assert builtin.status_code == 409
    missing = await site.admin.post("/admin/roles", json={"permissions": []})
    assert (missing.status_code, error_of(missing)["param"]) == (400, "name")
    listed = (await site.admin.get("/admin/roles")).json()["roles"]
    assert [role["name"] for role in listed] == ["admin", "user"]


async def test_a_granted_role_works_at_once_and_a_revoked_permission_stops_at_once(
    site: Site,  # noqa: F811
) -> None:
    assert (await site.user.get("/admin/users")).status_code == 403, "now cached as a user"
    created = await site.admin.post(
        "/admin/roles",
        json={"name": "support", "description": "Helpdesk", "permissions": ["users:read"]},
    )
    assert created.status_code == 201
    assert created.json() == {
        "name": "support",
        "description": "Helpdesk",
        "builtin": False,
        "permissions": ["users:read"],
        "users": 0,
    }

    given = await site.admin.put(f"/admin/users/{site.user_id}/role", json={"role": "support"})
    assert given.json() == {"user_id": site.user_id, "role": "support", "previous_role": "user"}
    assert (await site.user.get("/admin/users")).status_code == 200
    profile = (await site.user.get("/user/profile")).json()
    assert (profile["role"], profile["permissions"]) == ("support", ["users:read"])

    changed = await site.admin.patch("/admin/roles/support", json={"permissions": ["audit:read"]})
    assert changed.json()["permissions"] == ["audit:read"]
    assert changed.json()["description"] == "Helpdesk"
    assert (await site.user.get("/admin/users")).status_code == 403
    assert (await site.user.get("/admin/audit-logs")).status_code == 200

    [entry] = await _audit(site, "role.changed")
    assert (entry["actor_user_id"], entry["target_type"], entry["target_id"]) == (
        site.admin_id,
        "user",
        str(site.user_id),
    )
    assert entry["source_ip"] == "127.0.0.1"
    assert '"old_role":"user"' in entry["details"] and '"new_role":"support"' in entry["details"]
    assert len(await _audit(site, "role.created")) == len(await _audit(site, "role.updated")) == 1


async def test_a_held_role_cannot_be_deleted(site: Site) -> None:  # noqa: F811
    await site.admin.post("/admin/roles", json={"name": "support", "permissions": []})
    await site.admin.put(f"/admin/users/{site.user_id}/role", json={"role": "support"})
    refused = await site.admin.delete("/admin/roles/support")
    assert refused.status_code == 409
    assert "give them another role" in error_of(refused)["message"]

    await site.admin.put(f"/admin/users/{site.user_id}/role", json={"role": "user"})
    deleted = await site.admin.delete("/admin/roles/support")
    assert deleted.json() == {"name": "support", "deleted": True}
    assert (await site.admin.delete("/admin/roles/support")).status_code == 404
    assert (await site.admin.delete("/admin/roles/admin")).status_code == 409
    assert len(await _audit(site, "role.deleted")) == 1


async def test_unknown_roles_and_users_are_refused(site: Site) -> None:  # noqa: F811
    unknown = await site.admin.put(f"/admin/users/{site.user_id}/role", json={"role": "ghost"})
    assert (unknown.status_code, error_of(unknown)["param"]) == (400, "role")
    nobody = await site.admin.put("/admin/users/9999/role", json={"role": "user"})
    assert nobody.status_code == 404
    assert await _audit(site, "role.changed") == []


async def test_role_names_with_a_nul_character_are_refused_naming_the_field(
    site: Site,  # noqa: F811
) -> None:
    """PostgreSQL stores no NUL character: such a name is bad input, not a database error."""
    assigned = await site.admin.put(f"/admin/users/{site.user_id}/role", json={"role": "a\x00"})
    assert (assigned.status_code, error_of(assigned)["param"]) == (400, "role")
    created = await site.admin.post("/admin/roles", json={"name": "a\x00", "permissions": []})
    assert (created.status_code, error_of(created)["param"]) == (400, "name")
    changed = await site.admin.patch("/admin/roles/a%00", json={"description": "x"})
    assert (changed.status_code, error_of(changed)["param"]) == (400, "name")
    deleted = await site.admin.delete("/admin/roles/a%00")
    assert (deleted.status_code, error_of(deleted)["param"]) == (400, "name")


async def test_the_last_admin_cannot_demote_themselves(site: Site) -> None:  # noqa: F811
    refused = await site.admin.put(f"/admin/users/{site.admin_id}/role", json={"role": "user"})
    assert refused.status_code == 409
    assert "last admin" in error_of(refused)["message"]
    assert (await site.admin.get("/admin/roles")).status_code == 200, "still admin"
    assert await _audit(site, "role.changed") == []

    await site.admin.put(f"/admin/users/{site.user_id}/role", json={"role": "admin"})
    demoted = await site.admin.put(f"/admin/users/{site.admin_id}/role", json={"role": "user"})
    assert demoted.status_code == 200
    assert (await site.admin.get("/admin/roles")).status_code == 403, "applies at once"
    async with site.engine.connect() as conn:
        admins = (await conn.scalars(select(users.c.id).where(users.c.role == "admin"))).all()
    assert admins == [site.user_id]


async def test_users_write_creates_users_but_gives_no_role_as_its_description_says(
    site: Site,  # noqa: F811
) -> None:
    _, writer = await site.role_client("writer", ["users:write"])
    created = await writer.post("/admin/users", json={"email": "made@example.com"})
    assert created.status_code == 201, created.text
    for refused in (
        await writer.put(f"/admin/users/{site.user_id}/role", json={"role": "writer"}),
        await writer.post("/admin/users", json={"email": "w@example.com", "role": "writer"}),
    ):
        assert refused.status_code == 403, refused.text
        assert "roles:manage" in error_of(refused)["message"]
    described = (await site.admin.get("/admin/roles")).json()["permissions"]
    writes = next(p["description"] for p in described if p["name"] == "users:write")
    assert "roles:manage" in writes, "the description must not promise role changes"


async def test_roles_manage_alone_cannot_grant_what_it_does_not_hold(
    site: Site,  # noqa: F811
) -> None:
    keeper_id, keeper = await site.role_client("keeper", ["roles:manage", "users:read"])
    self_admin = await keeper.put(f"/admin/users/{keeper_id}/role", json={"role": "admin"})
    broad = await keeper.post(
        "/admin/roles", json={"name": "broad", "permissions": ["roles:manage", "credits:adjust"]}
    )
    widen = await keeper.patch("/admin/roles/keeper", json={"permissions": list(PERMISSIONS)})
    second_admin, _ = await site.client_with("second@example.com", role="admin")
    demote_admin = await keeper.put(f"/admin/users/{second_admin}/role", json={"role": "user"})
    for refused in (self_admin, broad, widen, demote_admin):
        assert refused.status_code == 403, refused.text
    assert "credits:adjust" in error_of(broad)["message"]
    async with site.engine.connect() as conn:
        held = dict((await conn.execute(select(users.c.id, users.c.role))).all())
    assert (held[keeper_id], held[second_admin]) == ("keeper", "admin")
    assert (await keeper.get("/admin/audit-logs")).status_code == 403, "no new permission"

    within = await keeper.post(
        "/admin/roles", json={"name": "reader", "permissions": ["users:read"]}
    )
    assert within.status_code == 201
    given = await keeper.put(f"/admin/users/{site.user_id}/role", json={"role": "reader"})
    assert given.status_code == 200

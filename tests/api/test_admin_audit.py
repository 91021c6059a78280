"""GET /admin/audit-logs: newest first, filtered, paged by id, details as objects."""

from datetime import UTC, datetime, timedelta

from gatewayz.accounts import audit
from gatewayz.accounts.audit import AuditEvent
from tests.api.admin_support import Site, error_of, site  # noqa: F401


async def _act(site: Site) -> None:  # noqa: F811
    """Three audited admin actions: a role, a role change and a credit adjustment."""
    await site.admin.post("/admin/roles", json={"name": "support", "permissions": ["audit:read"]})
    await site.admin.put(f"/admin/users/{site.user_id}/role", json={"role": "support"})
    await site.admin.post(
        f"/admin/users/{site.user_id}/credits", json={"amount": "2", "reason": "welcome"}
    )


async def test_entries_come_newest_first_with_details_as_objects(site: Site) -> None:  # noqa: F811
    await _act(site)
    body = (await site.admin.get("/admin/audit-logs")).json()
    assert [e["event"] for e in body["data"]] == [
        "credits.adjusted",
        "role.changed",
        "role.created",
    ]
    assert body["next_before_id"] is None
    adjusted = body["data"][0]
    assert adjusted["details"] == {"amount": "2", "reason": "welcome", "balance_after": "2"}
    assert (adjusted["actor_user_id"], adjusted["target_type"], adjusted["target_id"]) == (
        site.admin_id,
        "user",
        str(site.user_id),
    )
    assert adjusted["source_ip"] == "127.0.0.1"
    assert body["data"][1]["details"] == {"old_role": "user", "new_role": "support"}


async def test_entries_are_filtered_and_paged(site: Site) -> None:  # noqa: F811
    await _act(site)
    async with site.engine.begin() as conn:
        await audit.record(
            conn,
            AuditEvent("key.refused", created_at=datetime.now(UTC) - timedelta(days=3)),
        )
    by_event = (await site.admin.get("/admin/audit-logs", params={"event": "role.changed"})).json()
    assert [e["event"] for e in by_event["data"]] == ["role.changed"]
    on_user = {"target_type": "user", "target_id": str(site.user_id)}
    targeted = (await site.admin.get("/admin/audit-logs", params=on_user)).json()
    assert [e["event"] for e in targeted["data"]] == ["credits.adjusted", "role.changed"]
    by_actor = {"actor_user_id": site.admin_id}
    assert len((await site.admin.get("/admin/audit-logs", params=by_actor)).json()["data"]) == 3
    old = {"to": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    older = (await site.admin.get("/admin/audit-logs", params=old)).json()
    assert [(e["event"], e["details"]) for e in older["data"]] == [("key.refused", {})]

    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    while True:
        page = (await site.admin.get("/admin/audit-logs", params=params)).json()
        seen += [e["event"] for e in page["data"]]
        if page["next_before_id"] is None:
            break
        params["before_id"] = page["next_before_id"]
    assert seen == ["key.refused", "credits.adjusted", "role.changed", "role.created"], (
        "in the order written, the last first"
    )


async def test_the_user_the_role_granted_audit_read_can_read_it(site: Site) -> None:  # noqa: F811
    await _act(site)
    assert (await site.user.get("/admin/audit-logs")).status_code == 200


async def test_bad_filters_are_refused_by_name(site: Site) -> None:  # noqa: F811
    for params, param in [
        ({"from": "soon"}, "from"),
        ({"to": "2025-02-30"}, "to"),
        ({"from": "2025-01-02", "to": "2025-01-01"}, "from"),
        ({"limit": 501}, "limit"),
        ({"before_id": "x"}, "before_id"),
    ]:
        response = await site.admin.get("/admin/audit-logs", params=params)
        assert (response.status_code, error_of(response)["param"]) == (400, param), params

"""/user/api-keys as a client uses it: create, list, change, revoke and rotate keys over HTTP."""

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from gatewayz.store.tables import audit_logs, notifications
from tests.conftest import Gateway, add_funded_user, gateway_settings, serve, settle_now
from tests.fakes.openai_upstream import FakeOpenAIUpstream


def client(gateway: Gateway, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key or gateway.api_key}"}
    return httpx.AsyncClient(base_url=gateway.base_url, headers=headers, timeout=20)


async def create(gateway: Gateway, key: str | None = None, **body: Any) -> dict[str, Any]:
    async with client(gateway, key) as http:
        response = await http.post("/user/api-keys", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def balance_status(gateway: Gateway, key: str) -> int:
    async with client(gateway, key) as http:
        return (await http.get("/user/balance")).status_code


async def audit_rows(gateway: Gateway) -> list[dict[str, Any]]:
    await settle_now(gateway.services)
    async with gateway.engine.connect() as conn:
        rows = await conn.execute(select(audit_logs).order_by(audit_logs.c.id))
        return [dict(row._mapping) for row in rows]


async def test_a_created_key_is_shown_once_and_works(gateway: Gateway) -> None:
    created = await create(gateway, name="laptop")
    key = created.pop("key")
    assert key.startswith("gw_live_") and len(key) > 40
    assert created["prefix"] == key[:12] and created["status"] == "active"
    assert created["environment"] == "live" and created["spent"] == "0"
    assert await balance_status(gateway, key) == 200

    async with client(gateway) as http:
        listed = await http.get("/user/api-keys")
    assert listed.status_code == 200
    assert key not in listed.text
    names = [(k["name"], k["status"]) for k in listed.json()["data"]]
    assert names == [("test", "active"), ("laptop", "active")]
    assert listed.json()["data"][1] == created


async def test_every_restriction_is_stored_normalised(gateway: Gateway) -> None:
    created = await create(
        gateway,
        name="ci",
        environment="test",
        scopes=["chat", "embeddings"],
        expires_in_days=30,
        ip_allowlist=["10.1.2.3/8", "2001:DB8::/32", "127.0.0.1"],
        referrers=["Example.com", "*.example.com"],
        spend_limit="12.5",
        rate_limits={"rpm": 60, "concurrency": 2},
    )
    assert created["key"].startswith("gw_test_") and created["prefix"].startswith("gw_test_")
    assert created["scopes"] == ["chat", "embeddings"]
    assert created["ip_allowlist"] == ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]
    assert created["referrers"] == ["example.com", "*.example.com"]
    assert created["spend_limit"] == "12.5"
    assert created["rate_limits"] == {"rpm": 60, "rpd": None, "tpm": None, "concurrency": 2}
    assert created["expires_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"ip_allowlist": ["10.0.0.1", "10.0.0.300"]}, "ip_allowlist", "'10.0.0.300'"),
        ({"ip_allowlist": ["fe80::/129"]}, "ip_allowlist", "CIDR"),
        ({"scopes": ["chat", "everything"]}, "scopes", "unknown scope 'everything'"),
        ({"referrers": ["https://example.com/"]}, "referrers", "not a domain name"),
        ({"spend_limit": "0.0000000001"}, "spend_limit", "more than 9 decimal places"),
        ({"spend_limit": "-1"}, "spend_limit", "greater than or equal to 0"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "in the future"),
        ({"expires_at": "2099-01-01T00:00:00Z", "expires_in_days": 3}, "expires_at", "not both"),
        ({"rate_limits": {"rpm": 0}}, "rate_limits.rpm", "greater than or equal to 1"),
        ({"environment": "prod"}, "environment", "'live' or 'test'"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
async def test_bad_fields_are_refused_with_400_naming_them(
    gateway: Gateway, body: dict[str, Any], param: str, words: str
) -> None:
    async with client(gateway) as http:
        response = await http.post("/user/api-keys", json={"name": "x", **body})
        listed = await http.get("/user/api-keys")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and words in error["message"]
    assert len(listed.json()["data"]) == 1, "nothing was created"


async def test_patch_changes_restrictions_at_once_and_null_clears_them(gateway: Gateway) -> None:
    created = await create(gateway, name="app", spend_limit="3")
    key, key_id = created["key"], created["id"]
    async with client(gateway) as http:
        fenced = await http.patch(
            f"/user/api-keys/{key_id}",
            json={"name": "web app", "ip_allowlist": ["10.0.0.0/8"], "rate_limits": {"rpd": 9}},
        )
        assert fenced.status_code == 200, fenced.text
        assert fenced.json()["name"] == "web app"
        assert fenced.json()["spend_limit"] == "3", "fields left out stay"
        assert fenced.json()["rate_limits"]["rpd"] == 9
        assert await balance_status(gateway, key) == 403, "applies without waiting for the cache"

        cleared = await http.patch(
            f"/user/api-keys/{key_id}",
            json={"ip_allowlist": None, "spend_limit": None, "rate_limits": None},
        )
        assert cleared.json()["ip_allowlist"] is None
        assert cleared.json()["spend_limit"] is None and cleared.json()["rate_limits"] is None
        assert await balance_status(gateway, key) == 200

        no_name = await http.patch(f"/user/api-keys/{key_id}", json={"name": None})
        assert no_name.status_code == 400 and no_name.json()["error"]["param"] == "name"


async def test_other_users_keys_do_not_exist_for_the_caller(gateway: Gateway) -> None:
    _, stranger = await add_funded_user(gateway.engine, "stranger@example.com", "0")
    theirs = await create(gateway, stranger, name="theirs")
    path = f"/user/api-keys/{theirs['id']}"
    async with client(gateway) as http:
        answers = [
            await http.get(path),
            await http.patch(path, json={"name": "mine"}),
            await http.delete(path),
            await http.post(f"{path}/rotate"),
        ]
    assert [a.status_code for a in answers] == [404] * 4
    assert await balance_status(gateway, theirs["key"]) == 200


async def test_a_revoked_key_is_refused_at_once_and_the_failure_audited(gateway: Gateway) -> None:
    created = await create(gateway, name="old")
    async with client(gateway) as http:
        revoked = await http.delete(f"/user/api-keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    async with client(gateway, created["key"]) as http:
        refused = await http.get("/user/balance")
    assert refused.status_code == 401

    failed = [row for row in await audit_rows(gateway) if row["event"] == "auth.failed"]
    assert len(failed) == 1
    assert failed[0]["source_ip"] == "127.0.0.1"
    details = orjson.loads(failed[0]["details"])
    assert details == {
        "path": "/user/balance",
        "reason": "invalid key",
        "key_prefix": created["prefix"],
    }
    assert created["key"] not in str(failed[0])


async def test_a_flood_of_bad_keys_is_audited_only_up_to_a_bound(gateway: Gateway) -> None:
    async with client(gateway, "gw_live_" + "x" * 40) as http:
        answers = await asyncio.gather(*(http.get("/user/balance") for _ in range(60)))
    assert {a.status_code for a in answers} == {401}
    failed = [row for row in await audit_rows(gateway) if row["event"] == "auth.failed"]
    assert len(failed) == 20
    last = orjson.loads(failed[-1]["details"])
    assert last["further_failures_not_audited_this_minute"] == 1


async def test_rotation_keeps_the_old_key_for_its_grace_then_refuses_it(gateway: Gateway) -> None:
    created = await create(gateway, name="svc", scopes=["account"], rate_limits={"rpm": 100})
    async with client(gateway) as http:
        rotated = await http.post(f"/user/api-keys/{created['id']}/rotate", json={})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"] != created["key"] and new["id"] != created["id"]
    assert (new["name"], new["scopes"], new["rate_limits"]) == (
        "svc",
        ["account"],
        created["rate_limits"],
    )
    assert new["previous_key"]["status"] == "rotating"
    assert new["previous_key"]["replaced_by"] == new["id"]
    assert await balance_status(gateway, created["key"]) == 200, "within the default grace"
    assert await balance_status(gateway, new["key"]) == 200

    async with client(gateway) as http:
        again = await http.post(f"/user/api-keys/{new['id']}/rotate", json={"grace_seconds": 0})
    assert again.status_code == 201
    async with client(gateway, new["key"]) as http:
        ended = await http.get("/user/balance")
    assert ended.status_code == 403
    assert "was rotated; it expired at" in ended.json()["error"]["message"]
    assert ended.json()["error"]["code"] == "key_expires_at"
    async with client(gateway) as http:
        refused = await http.post(f"/user/api-keys/{new['id']}/rotate")
        too_long = await http.post(
            f"/user/api-keys/{again.json()['id']}/rotate", json={"grace_seconds": 31 * 86_400}
        )
    assert refused.status_code == 409
    assert too_long.status_code == 400
    assert too_long.json()["error"]["param"] == "grace_seconds"


async def test_a_key_without_the_keys_scope_cannot_manage_keys(gateway: Gateway) -> None:
    chat_only = await create(gateway, name="chat", scopes=["chat"])
    async with client(gateway, chat_only["key"]) as http:
        listed = await http.get("/user/api-keys")
    assert listed.status_code == 403
    assert listed.json()["error"]["message"] == (
        "This API key is not granted scope 'keys' (scopes)"
    )

    manager = await create(gateway, name="manager", scopes=["keys", "chat"])
    async with client(gateway, manager["key"]) as http:
        broader = await http.post("/user/api-keys", json={"scopes": ["chat", "admin"]})
        unscoped = await http.post("/user/api-keys", json={})
        narrower = await http.post("/user/api-keys", json={"scopes": ["chat"]})
        widen = await http.patch(f"/user/api-keys/{chat_only['id']}", json={"scopes": None})
    assert broader.status_code == 403 and "admin" in broader.json()["error"]["message"]
    assert unscoped.status_code == 403
    assert widen.status_code == 403
    assert narrower.status_code == 201


@pytest.mark.parametrize(
    ("held", "wanted", "restriction"),
    [
        ({"expires_in_days": 1}, {}, "expires_at"),
        ({"expires_in_days": 1}, {"expires_in_days": 30}, "expires_at"),
        ({"ip_allowlist": ["10.0.0.0/8", "127.0.0.1"]}, {}, "ip_allowlist"),
        ({"ip_allowlist": ["127.0.0.1"]}, {"ip_allowlist": ["127.0.0.0/24"]}, "ip_allowlist"),
        ({"rate_limits": {"rpm": 10}}, {}, "rate_limits"),
        ({"rate_limits": {"rpm": 10}}, {"rate_limits": {"rpm": 11}}, "rate_limits"),
        ({"spend_limit": "1"}, {"spend_limit": "1"}, "spend_limit"),
    ],
)
async def test_a_restricted_key_cannot_create_a_less_restricted_one(
    gateway: Gateway, held: dict[str, Any], wanted: dict[str, Any], restriction: str
) -> None:
    manager = await create(gateway, name="manager", scopes=["keys", "account"], **held)
    async with client(gateway, manager["key"]) as http:
        response = await http.post("/user/api-keys", json={"scopes": ["account"], **wanted})
        listed = await http.get("/user/api-keys")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == f"key_{restriction}"
    assert len(listed.json()["data"]) == 2, "nothing was created"
    denied = [row for row in await audit_rows(gateway) if row["event"] == "key.restriction_denied"]
    assert [(row["actor_key_id"], orjson.loads(row["details"])) for row in denied] == [
        (manager["id"], {"restriction": restriction, "path": "/user/api-keys"})
    ]


async def test_a_restricted_key_cannot_loosen_itself_or_take_a_looser_key(
    gateway: Gateway,
) -> None:
    loose = await create(gateway, name="loose", scopes=["account"])
    manager = await create(
        gateway,
        name="manager",
        scopes=["keys", "account"],
        expires_in_days=1,
        ip_allowlist=["127.0.0.0/8"],
        spend_limit="2",
        rate_limits={"rpm": 50},
    )
    own = f"/user/api-keys/{manager['id']}"
    async with client(gateway, manager["key"]) as http:
        unexpire = await http.patch(own, json={"expires_at": None})
        unfence = await http.patch(own, json={"ip_allowlist": None})
        unlimit = await http.patch(own, json={"spend_limit": None, "rate_limits": None})
        take = await http.post(f"/user/api-keys/{loose['id']}/rotate")
        stricter = await http.patch(own, json={"rate_limits": {"rpm": 5}, "spend_limit": "1"})
        itself = await http.post(f"{own}/rotate")
    assert [r.status_code for r in (unexpire, unfence, unlimit, take)] == [403] * 4
    codes = [r.json()["error"]["code"] for r in (unexpire, unfence, unlimit, take)]
    assert codes == ["key_expires_at", "key_ip_allowlist", "key_spend_limit", "key_expires_at"]
    assert stricter.status_code == 200, stricter.text
    assert itself.status_code == 201, itself.text
    assert itself.json()["expires_at"] == manager["expires_at"]


async def test_a_rotated_out_key_cannot_mint_a_lasting_key(gateway: Gateway) -> None:
    """A leaked key being rotated away keeps working for its grace, but only as itself."""
    old = await create(gateway, name="leaked")
    async with client(gateway) as http:
        rotated = await http.post(f"/user/api-keys/{old['id']}/rotate", json={"grace_seconds": 600})
    assert rotated.status_code == 201
    async with client(gateway, old["key"]) as http:
        minted = await http.post("/user/api-keys", json={"name": "backdoor"})
        extended = await http.patch(f"/user/api-keys/{old['id']}", json={"expires_at": None})
    assert (minted.status_code, extended.status_code) == (403, 403)
    assert minted.json()["error"]["code"] == "key_rotated"


async def test_a_rotated_out_key_cannot_revoke_rotate_or_change_its_replacement(
    gateway: Gateway,
) -> None:
    """Whoever holds a leaked key that its owner rotated away may make calls with it until
    its grace ends, but cannot fight the owner: no key management at all."""
    leaked = await create(gateway, name="leaked")
    async with client(gateway) as http:
        rotated = await http.post(
            f"/user/api-keys/{leaked['id']}/rotate", json={"grace_seconds": 600}
        )
    new = rotated.json()
    async with client(gateway, leaked["key"]) as old:
        attempts = {
            "revoke": await old.delete(f"/user/api-keys/{new['id']}"),
            "rotate": await old.post(f"/user/api-keys/{new['id']}/rotate", json={}),
            "fence": await old.patch(
                f"/user/api-keys/{new['id']}", json={"ip_allowlist": ["203.0.113.0/24"]}
            ),
            "rename": await old.patch(f"/user/api-keys/{new['id']}", json={"name": "mine"}),
            "create": await old.post("/user/api-keys", json={"name": "x", "expires_in_days": 1}),
            "revoke itself": await old.delete(f"/user/api-keys/{leaked['id']}"),
        }
        still = await old.get("/user/balance")
    for what, refused in attempts.items():
        assert refused.status_code == 403, (what, refused.text)
        assert refused.json()["error"]["code"] == "key_rotated", what
    assert still.status_code == 200, "it may still be used until its grace ends"
    assert await balance_status(gateway, new["key"]) == 200
    async with client(gateway) as http:
        listed = (await http.get("/user/api-keys")).json()["data"]
    assert [(k["name"], k["status"], k["ip_allowlist"]) for k in listed] == [
        ("test", "active", None),
        ("leaked", "rotating", None),
        ("leaked", "active", None),
    ]


async def test_a_rotated_out_key_cached_by_another_process_cannot_manage_keys(
    gateway: Gateway, database_url: str, upstream: FakeOpenAIUpstream
) -> None:
    leaked = await create(gateway, name="leaked")
    async with (
        serve(gateway_settings(database_url, upstream)) as (other_url, _),
        httpx.AsyncClient(
            base_url=other_url, headers={"Authorization": f"Bearer {leaked['key']}"}
        ) as other,
    ):
        assert (await other.get("/user/api-keys")).status_code == 200, "cached there now"
        async with client(gateway) as http:
            rotated = await http.post(f"/user/api-keys/{leaked['id']}/rotate", json={})
        new_id = rotated.json()["id"]
        refused = await other.delete(f"/user/api-keys/{new_id}")
        minted = await other.post("/user/api-keys", json={"name": "backdoor"})
    assert (refused.status_code, minted.status_code) == (403, 403), refused.text
    assert refused.json()["error"]["code"] == "key_rotated"
    assert await balance_status(gateway, rotated.json()["key"]) == 200


async def test_revoking_the_new_key_stops_the_rotated_out_one_at_once(gateway: Gateway) -> None:
    old = await create(gateway, name="svc")
    async with client(gateway) as http:
        new = (await http.post(f"/user/api-keys/{old['id']}/rotate", json={})).json()
    assert await balance_status(gateway, old["key"]) == 200, "cached now"
    async with client(gateway) as http:
        assert (await http.delete(f"/user/api-keys/{new['id']}")).status_code == 200
    assert await balance_status(gateway, old["key"]) == 401
    assert await balance_status(gateway, new["key"]) == 401

    first = await create(gateway, name="chain")
    async with client(gateway) as http:
        middle = (await http.post(f"/user/api-keys/{first['id']}/rotate", json={})).json()
        last = (await http.post(f"/user/api-keys/{middle['id']}/rotate", json={})).json()
    assert [await balance_status(gateway, k["key"]) for k in (first, middle, last)] == [200] * 3
    async with client(gateway) as http:
        assert (await http.delete(f"/user/api-keys/{middle['id']}")).status_code == 200
    assert [await balance_status(gateway, k["key"]) for k in (first, middle, last)] == [
        401,
        401,
        200,
    ], "a key rotated into a revoked one stops with it"


async def test_after_two_rotations_each_earlier_key_lasts_no_longer_than_the_next(
    gateway: Gateway,
) -> None:
    first = await create(gateway, name="svc")
    async with client(gateway) as http:
        second = (await http.post(f"/user/api-keys/{first['id']}/rotate", json={})).json()
        third = (await http.post(f"/user/api-keys/{second['id']}/rotate", json={})).json()
    assert [await balance_status(gateway, k["key"]) for k in (first, second, third)] == [200] * 3
    async with client(gateway) as http:
        fourth = await http.post(f"/user/api-keys/{third['id']}/rotate", json={"grace_seconds": 0})
    assert fourth.status_code == 201
    for ended in (first, second, third):
        async with client(gateway, ended["key"]) as http:
            refused = await http.get("/user/balance")
        assert refused.status_code == 403, ended["id"]
        assert "was rotated; it expired at" in refused.json()["error"]["message"]
    assert await balance_status(gateway, fourth.json()["key"]) == 200


async def test_empty_scopes_are_refused_rather_than_meaning_every_scope(gateway: Gateway) -> None:
    async with client(gateway) as http:
        response = await http.post("/user/api-keys", json={"name": "none", "scopes": []})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "scopes"


async def test_changes_are_audited_and_the_user_is_told_of_new_keys(gateway: Gateway) -> None:
    created = await create(gateway, name="audited")
    key_id = created["id"]
    async with client(gateway) as http:
        await http.patch(f"/user/api-keys/{key_id}", json={"referrers": ["example.com"]})
        await http.patch(f"/user/api-keys/{key_id}", json={"spend_limit": "2"})
        rotated = (await http.post(f"/user/api-keys/{key_id}/rotate", json={})).json()
        await http.delete(f"/user/api-keys/{rotated['id']}")
    rows = [row for row in await audit_rows(gateway) if row["event"].startswith("key.")]
    assert [(r["event"], r["target_id"]) for r in rows] == [
        ("key.created", str(key_id)),
        ("key.updated", str(key_id)),
        ("key.updated", str(key_id)),
        ("key.rotated", str(key_id)),
        ("key.revoked", str(rotated["id"])),
    ]
    assert {(r["actor_user_id"], r["source_ip"]) for r in rows} == {(gateway.user_id, "127.0.0.1")}
    assert orjson.loads(rows[1]["details"]) == {"fields": ["referrers"]}
    assert orjson.loads(rows[2]["details"]) == {"fields": ["spend_limit"]}
    async with gateway.engine.connect() as conn:
        sent = (await conn.execute(select(notifications.c.kind, notifications.c.dedupe_key))).all()
    assert sorted(sent) == [
        ("key_created", f"key_created:{key_id}"),
        ("key_created", f"key_created:{rotated['id']}"),
    ]

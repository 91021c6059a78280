"""Scratch probe (reviewer): which inputs 500."""
import pytest
from tests.api.admin_support import site  # noqa: F401

BIG = "99999999999999999999"
H = str(2**63)

GETS = [
    f"/user/api-keys/{BIG}", f"/user/api-keys/{H}", f"/admin/users/{BIG}", f"/admin/users/{H}",
    f"/admin/users?offset={H}", f"/admin/users?offset={BIG}", f"/admin/audit-logs?actor_user_id={H}",
    f"/admin/audit-logs?before_id={H}", f"/admin/usage?user_id={H}", f"/user/transactions?before_id={H}",
    "/admin/usage?to=0001-01-01", "/admin/usage?from=0001-01-01T00:00:00%2B05:00",
    "/admin/audit-logs?from=0001-01-01T00:00:00%2B05:00", "/user/usage?to=0001-01-01",
    "/user/usage?from=9999-12-31T23:59:59-05:00", f"/admin/audit-logs?target_id=%00",
    f"/admin/users?q=%00", f"/admin/users?q={H}", f"/v1/chat/sessions?before={H}",
    "/admin/audit-logs?event=%00", "/admin/users?q=\u00e9\U0001F600",
]
MUT = [
    ("PATCH", f"/user/api-keys/{H}", {"name": "x"}), ("DELETE", f"/user/api-keys/{H}", None),
    ("POST", f"/user/api-keys/{H}/rotate", None), ("PUT", f"/admin/users/{H}/role", {"role": "user"}),
    ("POST", "/user/api-keys", {"name": "\x00"}), ("POST", "/user/api-keys", {"spend_limit": "1e999"}),
    ("POST", "/user/api-keys", {"spend_limit": 1e300}), ("POST", "/user/api-keys", {"expires_at": "9999-12-31T23:59:59-05:00"}),
    ("POST", "/user/api-keys", {"expires_at": "0001-01-01T00:00:00+05:00"}),
    ("POST", "/user/api-keys", {"rate_limits": {"rpm": 10**30}}), ("POST", "/user/api-keys", {"scopes": "chat"}),
    ("POST", "/user/api-keys/1/rotate", {"grace_seconds": 10**30}),
    ("POST", "/admin/users", {"email": "a\x00@x.com"}), ("POST", "/admin/users", {"email": "x@y.z", "credits": "1e999999999"}),
    ("POST", "/admin/roles", {"name": "r\x00"}), ("POST", "/admin/roles", {"name": "ok", "permissions": "users:read"}),
    ("PUT", "/user/provider-keys/openai", {"api_key": 5}), ("PUT", "/user/provider-keys/%00", {"api_key": "x" * 20}),
    ("POST", "/v1/chat/sessions", {"title": "\x00"}), ("POST", "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}], "session_id": H}),
    ("POST", "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}], "session_id": "9" * 400}),
    ("POST", "/admin/users/1/credits", {"amount": "1e99999", "reason": "x"}),
]

async def test_probe(site):  # noqa: F811
    bad = []
    for path in GETS:
        r = await site.admin.get(path)
        if r.status_code >= 500 or "error" not in r.text and r.status_code >= 400:
            bad.append((path, r.status_code, r.text[:200]))
    for method, path, body in MUT:
        r = await site.admin.request(method, path, json=body) if body is not None else await site.admin.request(method, path)
        if r.status_code >= 500:
            bad.append((method, path, body, r.status_code))
    for method, path, raw in [("POST", "/user/api-keys", b"{bad"), ("PATCH", "/user/api-keys/1", b"[1]"), ("POST", "/admin/roles", b"\xff\xfe"), ("POST", "/v1/chat/sessions", b"nul")]:
        r = await site.admin.request(method, path, content=raw, headers={"content-type": "application/json"})
        if r.status_code >= 500 or "error" not in r.text:
            bad.append((method, path, raw, r.status_code, r.text[:200]))
    print("\nBAD:", *bad, sep="\n")
    assert not bad

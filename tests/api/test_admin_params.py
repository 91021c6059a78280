"""Values nothing can store (ids beyond 32 bits, NUL characters, far-off times, huge numbers)
are refused in OpenAI's error format naming the field, on SQLite and PostgreSQL, never a 500."""

from typing import Any

import pytest

from tests.api.admin_support import Site, site  # noqa: F401

BIG = str(2**40)
CHAT = {"model": "fake/fake-model", "messages": [{"role": "user", "content": "hi"}]}

REQUESTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", f"/user/api-keys/{BIG}", None, "key_id"),
    ("PATCH", f"/user/api-keys/{BIG}", {"name": "x"}, "key_id"),
    ("POST", f"/user/api-keys/{BIG}/rotate", None, "key_id"),
    ("GET", f"/admin/users/{BIG}", None, "user_id"),
    ("PUT", f"/admin/users/{BIG}/role", {"role": "user"}, "user_id"),
    ("GET", f"/admin/users?offset={BIG}", None, "offset"),
    ("GET", f"/admin/audit-logs?before_id={BIG}", None, "before_id"),
    ("GET", f"/admin/usage?user_id={BIG}", None, "user_id"),
    ("GET", f"/user/transactions?before_id={BIG}", None, "before_id"),
    ("GET", f"/v1/chat/sessions/{BIG}", None, "session_id"),
    ("GET", f"/v1/chat/sessions?before={BIG}", None, "before"),
    ("POST", "/v1/chat/completions", {**CHAT, "session_id": 2**40}, "session_id"),
    ("GET", "/admin/usage?to=0001-01-01", None, "to"),
    ("GET", "/admin/audit-logs?from=0001-01-01T00:00:00%2B05:00", None, "from"),
    ("GET", "/user/usage?from=9999-12-31T23:59:59-05:00", None, "from"),
    ("GET", "/admin/audit-logs?target_id=%00", None, "target_id"),
    ("GET", "/admin/users?q=a%00", None, "q"),
    ("POST", "/user/api-keys", {"name": "a\x00"}, "name"),
    ("POST", "/user/api-keys", {"expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
    ("POST", "/user/api-keys", {"rate_limits": {"rpm": 2**40}}, "rate_limits.rpm"),
    ("POST", "/admin/users", {"email": "a\x00@example.com"}, "email"),
    ("POST", "/admin/users", {"email": "b@example.com", "credits": "1e999999999"}, "credits"),
    ("POST", "/admin/roles", {"name": "r", "description": "\x00"}, "description"),
    ("POST", "/v1/chat/sessions", {"title": "\x00"}, "title"),
]


@pytest.mark.parametrize(("method", "path", "body", "param"), REQUESTS)
async def test_unstorable_values_are_refused_naming_the_field(
    site: Site,  # noqa: F811
    method: str,
    path: str,
    body: dict[str, Any] | None,
    param: str,
) -> None:
    response = await site.admin.request(method, path, json=body)
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"

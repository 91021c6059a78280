"""/v1/chat/sessions as a client uses it over HTTP: create, list in pages, read, delete; only
the caller's own sessions; errors in OpenAI's format naming the field."""

from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, add_funded_user


def client(gateway: Gateway, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key or gateway.api_key}"}
    return httpx.AsyncClient(base_url=gateway.base_url, headers=headers, timeout=20)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


async def test_a_session_is_created_read_listed_and_deleted(gateway: Gateway) -> None:
    async with client(gateway) as http:
        created = await http.post("/v1/chat/sessions", json={"title": "Trip", "model": "fake/m"})
        assert created.status_code == 201, created.text
        session = created.json()
        assert session["object"] == "chat.session"
        assert (session["title"], session["model"], session["message_count"]) == (
            "Trip",
            "fake/m",
            0,
        )
        assert session["created_at"].endswith("+00:00") and session["updated_at"].endswith("+00:00")
        bare = (await http.post("/v1/chat/sessions")).json()
        assert (bare["title"], bare["model"]) == (None, None)

        read = await http.get(f"/v1/chat/sessions/{session['id']}")
        assert read.status_code == 200
        assert read.json() == {**session, "messages": []}

        listed = (await http.get("/v1/chat/sessions")).json()
        assert [s["id"] for s in listed["data"]] == [bare["id"], session["id"]]
        assert listed["has_more"] is False

        deleted = await http.delete(f"/v1/chat/sessions/{session['id']}")
        assert deleted.json() == {
            "id": session["id"],
            "object": "chat.session.deleted",
            "deleted": True,
        }
        error = error_of(await http.get(f"/v1/chat/sessions/{session['id']}"), 404)
        assert error["param"] == "session_id"
        error_of(await http.delete(f"/v1/chat/sessions/{session['id']}"), 404)
        listed = (await http.get("/v1/chat/sessions")).json()
        assert [s["id"] for s in listed["data"]] == [bare["id"]]


async def test_sessions_are_paged_newest_first(gateway: Gateway) -> None:
    async with client(gateway) as http:
        ids = [
            (await http.post("/v1/chat/sessions", json={"title": f"s{i}"})).json()["id"]
            for i in range(5)
        ]
        seen: list[int] = []
        before: int | None = None
        while True:
            params = {"limit": 2} | ({"before": before} if before else {})
            page = (await http.get("/v1/chat/sessions", params=params)).json()
            seen += [s["id"] for s in page["data"]]
            assert page["last_id"] == page["data"][-1]["id"]
            if not page["has_more"]:
                break
            before = page["last_id"]
    assert seen == ids[::-1]


async def test_another_users_sessions_are_not_found(gateway: Gateway) -> None:
    _, other_key = await add_funded_user(gateway.engine, "other@example.com", "0")
    async with client(gateway) as http:
        mine = (await http.post("/v1/chat/sessions", json={"title": "private"})).json()
    async with client(gateway, other_key) as http:
        error = error_of(await http.get(f"/v1/chat/sessions/{mine['id']}"), 404)
        assert error["type"] == "not_found_error" and "private" not in error["message"]
        error_of(await http.delete(f"/v1/chat/sessions/{mine['id']}"), 404)
        assert (await http.get("/v1/chat/sessions")).json()["data"] == []
    async with client(gateway) as http:
        assert (await http.get(f"/v1/chat/sessions/{mine['id']}")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("POST", "/v1/chat/sessions", {"title": "x" * 301}, "title"),
        ("POST", "/v1/chat/sessions", {"model": 7}, "model"),
        ("POST", "/v1/chat/sessions", {"name": "x"}, "name"),
        ("GET", "/v1/chat/sessions?limit=0", None, "limit"),
        ("GET", "/v1/chat/sessions?limit=101", None, "limit"),
        ("GET", "/v1/chat/sessions?before=abc", None, "before"),
        ("GET", "/v1/chat/sessions/abc", None, "session_id"),
        ("DELETE", "/v1/chat/sessions/0", None, "session_id"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    gateway: Gateway, method: str, path: str, body: Any, param: str
) -> None:
    async with client(gateway) as http:
        response = await http.request(method, path, json=body)
    error = error_of(response, 400)
    assert error["param"] == param and error["type"] == "invalid_request_error"


async def test_sessions_need_a_valid_key(gateway: Gateway) -> None:
    async with client(gateway, "gw_live_not-a-key") as http:
        error_of(await http.get("/v1/chat/sessions"), 401)
        error_of(await http.post("/v1/chat/sessions", json={}), 401)

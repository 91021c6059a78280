"""Oversized strings and over-deep JSON are refused at the edge, in the format of the API
called, with the field named: nothing reaches the upstream, the books or the request log."""

from typing import Any

import httpx
import pytest

from tests.e2e.support import HI, Caller, assert_openai_error

LONG = "m" * 257  # model ids, `user` and the like: 256 characters at most
FALLBACK = {"models": ["fake-model"]}  # so that only the size can refuse the call


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth - 1):
        value = [value]
    return value


CHAT_CASES = [
    ({"model": LONG, **FALLBACK}, "model"),
    ({"model": "fake-model", "models": ["fake-model", LONG]}, "models.1"),
    ({"model": "fake-model", "user": "u" * 257}, "user"),
    ({"model": "fake-model", "safety_identifier": "s" * 257}, "safety_identifier"),
    ({"model": "fake-model", "prompt_cache_key": "p" * 257}, "prompt_cache_key"),
    ({"model": "fake-model", "metadata": {"note": "v" * 513}}, "metadata.note"),
    ({"model": "fake-model", "metadata": {"k" * 65: "v"}}, "metadata"),
    ({"model": "fake-model", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
]


@pytest.mark.parametrize(("fields", "param"), CHAT_CASES)
async def test_oversized_chat_fields_are_400_naming_the_field(
    caller: Caller, fields: dict[str, Any], param: str
) -> None:
    before = len(caller.upstream.requests)
    async with caller.http() as http:
        response = await http.post("/v1/chat/completions", json={"messages": HI, **fields})
    error = assert_openai_error(response, 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert len(caller.upstream.requests) == before
    await caller.assert_books(calls=0, charged=0)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/responses", {"model": LONG, **FALLBACK, "input": "hi"}),
        ("/v1/embeddings", {"model": LONG, "input": "hi"}),
        ("/v1/images/generations", {"model": LONG, "prompt": "a cat"}),
    ],
)
async def test_an_oversized_model_is_400_on_every_openai_api(
    caller: Caller, path: str, body: dict[str, Any]
) -> None:
    async with caller.http() as http:
        response = await http.post(path, json=body)
    assert assert_openai_error(response, 400)["param"] == "model"
    await caller.assert_books(calls=0, charged=0)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"model": LONG, **FALLBACK}, "model"),
        ({"model": "fake-model", "metadata": {"user_id": "u" * 513}}, "metadata.user_id"),
    ],
)
async def test_oversized_anthropic_fields_are_400_in_anthropic_format(
    caller: Caller, fields: dict[str, Any], named: str
) -> None:
    body = {"max_tokens": 10, "messages": HI, **fields}
    async with httpx.AsyncClient(base_url=caller.base_url, timeout=20) as http:
        response = await http.post("/v1/messages", json=body, headers={"x-api-key": caller.api_key})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(f"'{named}'")
    await caller.assert_books(calls=0, charged=0)


async def test_json_nested_too_deep_is_400(caller: Caller) -> None:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": nested(200)}]}
    async with caller.http() as http:
        response = await http.post("/v1/chat/completions", json=body)
    error = assert_openai_error(response, 400)
    assert "nested" in error["message"] and "128" in error["message"]
    await caller.assert_books(calls=0, charged=0)


async def test_fields_at_their_limits_are_served(caller: Caller) -> None:
    fields = {
        "model": "m" * 256,
        **FALLBACK,
        "user": "u" * 256,
        "metadata": {f"{i:0>64}": "v" * 512 for i in range(16)},
        "tools": [
            {
                "type": "function",
                "function": {"name": "deep", "parameters": {"type": "object", "x": nested(100)}},
            }
        ],
    }
    async with caller.http() as http:
        response = await http.post("/v1/chat/completions", json={"messages": HI, **fields})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["tool_calls"], "the fake calls the tool"
    (log,) = await caller.logs(1)
    assert log["model"] == "m" * 256

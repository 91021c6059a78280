"""Tool schemas sent to a Gemini model have their `$ref`s inlined by the gateway: a small
schema whose references fan out, or refer back to themselves, is refused with a 400 naming
where, quickly, and the gateway keeps answering other requests meanwhile."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.multi_stack import MultiStack, stack_fixture
from tests.e2e.support import Caller, assert_openai_error

HI = [{"role": "user", "content": "say hi please"}]
GENEROUS_SECONDS = 5.0  # the old expansion took minutes on this schema


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async for stack in stack_fixture(request, tmp_path_factory):
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def fan_out(depth: int) -> dict[str, Any]:
    """A chain of definitions, each referring to the next twice: 2**depth nodes inlined."""
    defs: dict[str, Any] = {f"d{depth}": {"type": "string"}}
    for i in range(depth):
        ref = {"$ref": f"#/$defs/d{i + 1}"}
        defs[f"d{i}"] = {"type": "object", "properties": {"a": ref, "b": ref}}
    return {"$defs": defs, "$ref": "#/$defs/d0"}


def tool(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", "parameters": parameters}}]


async def test_fanning_out_refs_are_refused_quickly_and_health_stays_up(
    stack: MultiStack, caller: Caller
) -> None:
    body = {"model": "gem/gemini-fake", "messages": HI, "tools": tool(fan_out(24))}
    assert len(httpx.Request("POST", "/", json=body).content) < 2500  # about 2 KB
    before = len(stack.gemini.requests)
    health: list[int] = []

    async def poll_health(http: httpx.AsyncClient, done: asyncio.Event) -> None:
        while not done.is_set():
            health.append((await http.get("/health", timeout=GENEROUS_SECONDS)).status_code)
            await asyncio.sleep(0.01)

    async with caller.http() as http:
        done = asyncio.Event()
        poller = asyncio.create_task(poll_health(http, done))
        started = time.monotonic()
        try:
            response = await http.post(
                "/v1/chat/completions", json=body, timeout=GENEROUS_SECONDS * 4
            )
        finally:
            elapsed = time.monotonic() - started
            done.set()
            await poller
    error = assert_openai_error(response, 400)
    assert error["param"].startswith("tools.0.function.parameters")
    assert "schema" in error["message"]
    assert elapsed < GENEROUS_SECONDS
    assert health and set(health) == {200}
    assert len(stack.gemini.requests) == before  # nothing was sent
    await caller.assert_books(calls=1, charged=0)


async def test_a_recursive_ref_is_refused_naming_where(stack: MultiStack, caller: Caller) -> None:
    parameters = {
        "type": "object",
        "properties": {"head": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
    }
    before = len(stack.gemini.requests)
    async with caller.http() as http:
        response = await http.post(
            "/v1/chat/completions",
            json={"model": "gem/gemini-fake", "messages": HI, "tools": tool(parameters)},
        )
    error = assert_openai_error(response, 400)
    assert error["param"] == "tools.0.function.parameters.properties.head.properties.next.$ref"
    assert "Node" in error["message"] and "recursive" in error["message"]
    assert len(stack.gemini.requests) == before


async def test_a_modest_shared_definition_is_still_inlined(
    stack: MultiStack, caller: Caller
) -> None:
    """Refs used several times in a normal schema keep working."""
    async with caller.http() as http:
        response = await http.post(
            "/v1/chat/completions",
            json={"model": "gem/gemini-fake", "messages": HI, "tools": tool(fan_out(6))},
        )
    assert response.status_code == 200, response.text
    sent = stack.gemini.requests[-1].json["tools"][0]["functionDeclarations"][0]["parameters"]
    leaf = sent
    for _ in range(6):
        assert set(leaf["properties"]) == {"a", "b"}
        leaf = leaf["properties"]["b"]
    assert leaf == {"type": "STRING"}

"""Key restrictions as clients meet them: a key used outside its scopes, expiry, address
allowlist, referrers, spending limit or rate limits is refused in the called API's format
(403 naming the restriction, or 429), costs nothing, and the refusal is audited."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anthropic
import openai
import orjson
import pytest
from sqlalchemy import select, update

from gatewayz.store.tables import api_keys, audit_logs
from tests.conftest import settle_now
from tests.e2e.support import HI, HI_COST, Caller

Key = tuple[str, int]


async def restricted_key(caller: Caller, **restrictions: Any) -> Key:
    """A new key of the caller's user, created through /user/api-keys; (key, id)."""
    async with caller.http() as http:
        response = await http.post("/user/api-keys", json={"name": "restricted", **restrictions})
    assert response.status_code == 201, response.text
    return response.json()["key"], response.json()["id"]


def openai_client(caller: Caller, key: str, **options: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=caller.base_url + "/v1", api_key=key, max_retries=0, timeout=20, **options
    )


async def chat(client: openai.AsyncOpenAI) -> str | None:
    answer = await client.chat.completions.create(model="fake-model", messages=HI, max_tokens=10)
    return answer.choices[0].message.content


async def refusal(client: openai.AsyncOpenAI) -> str:
    """The error message of a call the gateway refuses with 403."""
    with pytest.raises(openai.PermissionDeniedError) as raised:
        await chat(client)
    assert raised.value.status_code == 403
    return message(raised.value)


def message(error: openai.APIStatusError) -> str:
    """The gateway's error message (the SDK's own `message` prefixes the status)."""
    body = error.body
    assert isinstance(body, dict)
    return str(body["message"])


async def denials(caller: Caller, key_id: int) -> list[dict[str, Any]]:
    """The key's audited restriction hits, written by now."""
    await settle_now(caller.services)
    async with caller.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_logs.c.source_ip, audit_logs.c.details).where(
                audit_logs.c.event == "key.restriction_denied",
                audit_logs.c.actor_key_id == key_id,
            )
        )
        return [{"source_ip": ip, **orjson.loads(details)} for ip, details in rows]


async def test_a_key_is_refused_outside_its_scopes(caller: Caller) -> None:
    key, key_id = await restricted_key(caller, scopes=["embeddings", "account"])
    before = len(caller.upstream.requests)
    with pytest.raises(openai.PermissionDeniedError) as raised:
        await chat(openai_client(caller, key))
    assert message(raised.value) == "This API key is not granted scope 'chat' (scopes)"
    assert raised.value.code == "key_scopes"
    assert len(caller.upstream.requests) == before, "nothing was sent upstream"
    assert await denials(caller, key_id) == [
        {"source_ip": "127.0.0.1", "restriction": "scopes", "path": "/v1/chat/completions"}
    ]
    await caller.assert_books(calls=0, charged=0)


async def test_a_chat_only_key_cannot_reach_the_chat_history(caller: Caller) -> None:
    key, key_id = await restricted_key(caller, scopes=["chat"])
    client = openai_client(caller, key)
    with pytest.raises(openai.PermissionDeniedError) as listing:
        await client.get("/chat/sessions", cast_to=object)
    assert message(listing.value) == "This API key is not granted scope 'sessions' (scopes)"
    before = len(caller.upstream.requests)
    with pytest.raises(openai.PermissionDeniedError) as continuing:
        await client.chat.completions.create(
            model="fake-model", messages=HI, extra_body={"session_id": 1}
        )
    assert message(continuing.value) == "This API key is not granted scope 'sessions' (scopes)"
    assert len(caller.upstream.requests) == before, "nothing was sent upstream"
    assert [d["path"] for d in await denials(caller, key_id)] == [
        "/v1/chat/sessions",
        "/v1/chat/completions",
    ]


async def test_the_anthropic_sdk_gets_the_refusal_in_anthropic_format(caller: Caller) -> None:
    key, _ = await restricted_key(caller, scopes=["chat"])
    claude = anthropic.AsyncAnthropic(base_url=caller.base_url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as raised:
        await claude.messages.create(
            model="fake-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    body = raised.value.response.json()
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "permission_error",
        "message": "This API key is not granted scope 'messages' (scopes)",
    }
    assert raised.value.request_id and raised.value.request_id.startswith("req_")


async def test_an_expired_key_is_refused_naming_its_expiry(caller: Caller) -> None:
    key, key_id = await restricted_key(caller, expires_in_days=1)
    client = openai_client(caller, key)
    async with caller.engine.begin() as conn:  # a day later
        past = datetime.now(UTC) - timedelta(minutes=1)
        await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(expires_at=past))
    assert (
        await refusal(client) == f"This API key expired at {past:%Y-%m-%dT%H:%M:%S}Z (expires_at)"
    )
    assert [d["restriction"] for d in await denials(caller, key_id)] == ["expires_at"]


async def test_a_key_works_only_from_its_allowed_addresses(caller: Caller) -> None:
    fenced, fenced_id = await restricted_key(caller, ip_allowlist=["10.0.0.0/8", "2001:db8::/32"])
    refused = await refusal(openai_client(caller, fenced))
    assert refused == "This API key is not allowed from address 127.0.0.1 (ip_allowlist)"
    assert [d["restriction"] for d in await denials(caller, fenced_id)] == ["ip_allowlist"]

    local, _ = await restricted_key(caller, ip_allowlist=["::1", "127.0.0.0/8"])
    assert await chat(openai_client(caller, local)) == "This is a fake reply."
    await caller.assert_books(calls=1, charged=HI_COST)


async def test_a_key_works_only_from_its_allowed_referrers(caller: Caller) -> None:
    key, key_id = await restricted_key(caller, referrers=["*.example.com"])
    allowed = openai_client(caller, key, default_headers={"Referer": "https://app.example.com/x"})
    assert await chat(allowed) == "This is a fake reply."

    elsewhere = openai_client(caller, key, default_headers={"Origin": "https://example.net"})
    assert await refusal(elsewhere) == (
        "Referrer example.net is not allowed for this API key (referrers)"
    )
    assert "no Referer or Origin header" in await refusal(openai_client(caller, key))
    assert len(await denials(caller, key_id)) == 2


async def test_a_key_stops_at_its_spending_limit(caller: Caller) -> None:
    key, key_id = await restricted_key(caller, spend_limit="0.0005")
    client = openai_client(caller, key)
    served = 0
    for _ in range(20):
        try:
            await chat(client)
        except openai.PermissionDeniedError as refused:
            assert message(refused).startswith(
                "Spending limit of 0.0005 credits reached for this API key: this call may cost"
            )
            assert message(refused).endswith("(spend_limit)")
            break
        served += 1
        await settle_now(caller.services)
    else:
        pytest.fail("the key was never stopped")
    assert served >= 1
    await caller.assert_books(calls=served, charged=served * HI_COST)
    state = await key_state(caller, key_id)
    assert state["spent"] == f"{Decimal(served * HI_COST).scaleb(-9).normalize():f}"
    assert [d["restriction"] for d in await denials(caller, key_id)] == ["spend_limit"]


async def test_concurrent_calls_never_spend_past_the_limit(caller: Caller) -> None:
    limit_units = 1_000_000
    key, key_id = await restricted_key(caller, spend_limit="0.001")
    client = openai_client(caller, key)
    results = await asyncio.gather(*(chat(client) for _ in range(24)), return_exceptions=True)
    served = sum(1 for r in results if r == "This is a fake reply.")
    refused = [r for r in results if isinstance(r, openai.PermissionDeniedError)]
    assert served + len(refused) == 24 and served >= 1 and refused
    await caller.assert_books(calls=served, charged=served * HI_COST)
    async with caller.engine.connect() as conn:
        spent, held = (
            await conn.execute(
                select(api_keys.c.spent_units, api_keys.c.reserved_units).where(
                    api_keys.c.id == key_id
                )
            )
        ).one()
    assert (spent, held) == (served * HI_COST, 0)
    assert spent <= limit_units


async def test_a_keys_own_rate_limit_applies_as_soon_as_it_is_set(caller: Caller) -> None:
    key, key_id = await restricted_key(caller)
    async with caller.http() as http:
        changed = await http.patch(f"/user/api-keys/{key_id}", json={"rate_limits": {"rpm": 2}})
    assert changed.status_code == 200
    client = openai_client(caller, key)
    await chat(client)
    await chat(client)
    with pytest.raises(openai.RateLimitError) as raised:
        await chat(client)
    assert "2 requests per minute for this API key" in message(raised.value)
    assert await chat(openai_client(caller, caller.api_key)) == "This is a fake reply."


async def key_state(caller: Caller, key_id: int) -> dict[str, Any]:
    async with caller.http() as http:
        response = await http.get(f"/user/api-keys/{key_id}")
    assert response.status_code == 200
    state: dict[str, Any] = response.json()
    return state


async def test_a_rotated_key_and_its_replacement_share_one_spending_limit(caller: Caller) -> None:
    """During the grace both keys work, and together they spend no more than the limit, also
    with calls on the old key still running when it is rotated and calls on both at once."""
    limit_units = 1_000_000
    key, key_id = await restricted_key(caller, spend_limit="0.001")
    old = openai_client(caller, key)
    running = [
        asyncio.ensure_future(
            old.chat.completions.create(model="fake-slow-100", messages=HI, max_tokens=10)
        )
        for _ in range(4)
    ]
    await asyncio.sleep(0.05)
    async with caller.http() as http:
        rotated = await http.post(f"/user/api-keys/{key_id}/rotate", json={"grace_seconds": 600})
    assert rotated.status_code == 201, rotated.text
    new = openai_client(caller, rotated.json()["key"])
    results = await asyncio.gather(*running, return_exceptions=True)
    for _ in range(30):
        await settle_now(caller.services)
        round_ = await asyncio.gather(
            *(chat(client) for client in (old, new, old, new)), return_exceptions=True
        )
        results += round_
        if not any(answer == "This is a fake reply." for answer in round_):
            break
    served = sum(1 for r in results if not isinstance(r, BaseException))
    refused = [r for r in results if isinstance(r, openai.PermissionDeniedError)]
    assert served + len(refused) == len(results), [r for r in results if isinstance(r, Exception)]
    assert all(message(r).endswith("(spend_limit)") for r in refused)
    await caller.assert_books(calls=served, charged=served * HI_COST)
    assert served * HI_COST <= limit_units
    async with caller.engine.connect() as conn:
        rows = await conn.execute(
            select(api_keys.c.id, api_keys.c.spent_units, api_keys.c.reserved_units).where(
                api_keys.c.id.in_([key_id, rotated.json()["id"]])
            )
        )
        state = {row.id: (row.spent_units, row.reserved_units) for row in rows}
    assert state[rotated.json()["id"]] == (served * HI_COST, 0), "one counter for both keys"
    assert state[key_id][0] <= served * HI_COST and state[key_id][1] == 0

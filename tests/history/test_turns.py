"""ChatHistory on SQLite and PostgreSQL: what a request in a session sends upstream, what is
stored after it, and that a follow-up sees the previous turn at once."""

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.history import sessions
from gatewayz.history.turns import ChatHistory

SYSTEM = {"role": "system", "content": "Be brief."}


def _ask(text: str, *before: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [*before, {"role": "user", "content": text}], **fields}


async def _session(engine: AsyncEngine, email: str) -> tuple[int, int]:
    user_id = (await accounts.create_user(engine, email)).id
    return user_id, (await sessions.create_session(engine, user_id, None, None)).id


async def _stored(engine: AsyncEngine, user_id: int, session_id: int) -> list[dict[str, Any]]:
    found = await sessions.get_session(engine, user_id, session_id)
    assert found is not None
    return [m.message for m in found[1]]


async def test_a_request_without_session_id_is_left_alone(engine: AsyncEngine) -> None:
    await engine.dispose()
    history = ChatHistory(engine)
    assert await history.begin(1, _ask("hi"), 10, "req_1") is None
    assert await history.begin(1, _ask("hi", session_id=None), 10, "req_1") is None
    # No connection was needed for either.
    assert engine.pool.checkedout() == 0 and engine.pool.checkedin() == 0


async def test_history_comes_first_and_each_turn_is_stored_once(engine: AsyncEngine) -> None:
    user_id, session_id = await _session(engine, "turns@example.com")
    history = ChatHistory(engine)
    first = await history.begin(user_id, _ask("one", SYSTEM, session_id=session_id), 50, "r1")
    assert first is not None
    assert "session_id" not in first.body
    assert first.body["messages"] == [SYSTEM, {"role": "user", "content": "one"}]
    first.finish({"role": "assistant", "content": "1"})
    # Sent as soon as the answer is there: the first turn is already visible.
    second = await history.begin(user_id, _ask("two", SYSTEM, session_id=str(session_id)), 50, "r2")
    assert second is not None
    assert second.body["messages"] == [
        SYSTEM,
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "1"},
        {"role": "user", "content": "two"},
    ]
    assert second.body_size > 50  # the hold covers the injected history too
    second.finish(None)  # a failed call stores nothing
    await history.drain()
    assert await _stored(engine, user_id, session_id) == [
        SYSTEM,
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "1"},
    ]


async def test_concurrent_turns_are_stored_whole_in_the_order_they_ended(
    engine: AsyncEngine,
) -> None:
    user_id, session_id = await _session(engine, "order@example.com")
    history = ChatHistory(engine)
    turns = [
        await history.begin(user_id, _ask(f"q{i}", session_id=session_id), 10, f"r{i}")
        for i in range(5)
    ]
    for i, turn in enumerate(turns):  # five writes in flight at once
        assert turn is not None
        turn.finish({"role": "assistant", "content": f"a{i}"})
    await history.drain()
    stored = await _stored(engine, user_id, session_id)
    assert [m["content"] for m in stored] == [x for i in range(5) for x in (f"q{i}", f"a{i}")]


async def test_an_unknown_or_foreign_session_is_not_found(engine: AsyncEngine) -> None:
    _, session_id = await _session(engine, "mine@example.com")
    stranger = (await accounts.create_user(engine, "stranger@example.com")).id
    history = ChatHistory(engine)
    for user_id, named in ((stranger, session_id), (stranger, session_id + 1000)):
        with pytest.raises(NotFound) as caught:
            await history.begin(user_id, _ask("hi", session_id=named), 10, "r")
        assert caught.value.param == "session_id"


@pytest.mark.parametrize("named", [0, -3, "abc", 1.5, True, [1], "", 2**63])
async def test_a_malformed_session_id_is_refused(engine: AsyncEngine, named: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await ChatHistory(engine).begin(1, _ask("hi", session_id=named), 10, "r")
    assert caught.value.param == "session_id"


async def test_drain_waits_for_writes_still_running(engine: AsyncEngine) -> None:
    user_id, session_id = await _session(engine, "drain@example.com")
    history = ChatHistory(engine)
    turn = await history.begin(user_id, _ask("late", session_id=session_id), 10, "r")
    assert turn is not None
    turn.finish({"role": "assistant", "content": "ok"})
    await asyncio.wait_for(history.drain(), 10)
    assert len(await _stored(engine, user_id, session_id)) == 2

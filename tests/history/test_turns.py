"""ChatHistory on SQLite and PostgreSQL: what a request in a session sends upstream, what is
stored after it, and that a follow-up sees the previous turn at once."""

import asyncio
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.history import sessions
from gatewayz.history.turns import MAX_HISTORY_MESSAGES, ChatHistory

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
    assert await history.begin(1, _ask("hi"), 10) is None
    assert await history.begin(1, _ask("hi", session_id=None), 10) is None
    # No connection was needed for either.
    assert engine.pool.checkedout() == 0 and engine.pool.checkedin() == 0


async def test_history_comes_first_and_each_turn_is_stored_once(engine: AsyncEngine) -> None:
    user_id, session_id = await _session(engine, "turns@example.com")
    history = ChatHistory(engine)
    first = await history.begin(user_id, _ask("one", SYSTEM, session_id=session_id), 50)
    assert first is not None
    assert "session_id" not in first.body
    assert (await first.request())["messages"] == [SYSTEM, {"role": "user", "content": "one"}]
    first.finish({"role": "assistant", "content": "1"}, "r1")
    # Sent as soon as the answer is there: the first turn is already visible.
    second = await history.begin(user_id, _ask("two", SYSTEM, session_id=str(session_id)), 50)
    assert second is not None
    assert second.body["messages"] == [SYSTEM, {"role": "user", "content": "two"}]  # as sent
    assert (await second.request())["messages"] == [
        SYSTEM,
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "1"},
        {"role": "user", "content": "two"},
    ]
    assert second.body_size > 50  # the hold covers the injected history too
    second.finish(None, "r2")  # a failed call stores nothing
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
        await history.begin(user_id, _ask(f"q{i}", session_id=session_id), 10) for i in range(5)
    ]
    for i, turn in enumerate(turns):  # five writes in flight at once
        assert turn is not None
        await turn.request()
        turn.finish({"role": "assistant", "content": f"a{i}"}, f"r{i}")
    await history.drain()
    stored = await _stored(engine, user_id, session_id)
    assert [m["content"] for m in stored] == [x for i in range(5) for x in (f"q{i}", f"a{i}")]


async def test_an_unknown_or_foreign_session_is_not_found(engine: AsyncEngine) -> None:
    _, session_id = await _session(engine, "mine@example.com")
    stranger = (await accounts.create_user(engine, "stranger@example.com")).id
    history = ChatHistory(engine)
    for user_id, named in ((stranger, session_id), (stranger, session_id + 1000)):
        with pytest.raises(NotFound) as caught:
            await history.begin(user_id, _ask("hi", session_id=named), 10)
        assert caught.value.param == "session_id"


@pytest.mark.parametrize("named", [0, -3, "abc", 1.5, True, [1], "", 2**63])
async def test_a_malformed_session_id_is_refused(engine: AsyncEngine, named: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await ChatHistory(engine).begin(1, _ask("hi", session_id=named), 10)
    assert caught.value.param == "session_id"


async def test_drain_waits_for_writes_still_running(engine: AsyncEngine) -> None:
    user_id, session_id = await _session(engine, "drain@example.com")
    history = ChatHistory(engine)
    turn = await history.begin(user_id, _ask("late", session_id=session_id), 10)
    assert turn is not None
    await turn.request()
    turn.finish({"role": "assistant", "content": "ok"}, "r")
    await asyncio.wait_for(history.drain(), 10)
    assert len(await _stored(engine, user_id, session_id)) == 2


async def test_the_history_is_measured_at_begin_and_read_only_when_asked(
    engine: AsyncEngine,
) -> None:
    user_id, session_id = await _session(engine, "lazy@example.com")
    stored = [{"role": "user", "content": f"q{i}"} for i in range(MAX_HISTORY_MESSAGES + 5)]
    assert await sessions.append_turn(engine, user_id, session_id, stored, "r0")
    history = ChatHistory(engine)
    turn = await history.begin(user_id, _ask("next", session_id=session_id), 20)
    assert turn is not None
    window = stored[-MAX_HISTORY_MESSAGES:]
    assert turn.body_size == 20 + sum(len(orjson.dumps(m)) + 1 for m in window)
    assert turn.new_messages is None  # nothing read yet
    turn.finish({"role": "assistant", "content": "never read, never stored"}, "r1")
    assert (await turn.request())["messages"] == [*window, {"role": "user", "content": "next"}]
    await history.drain()
    assert len(await _stored(engine, user_id, session_id)) == len(stored)


async def test_a_window_starting_with_tool_results_drops_them(engine: AsyncEngine) -> None:
    user_id, session_id = await _session(engine, "orphans@example.com")
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    older = [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]}]
    results = [{"role": "tool", "tool_call_id": "c1", "content": "r"}] * 2
    latest = [{"role": "user", "content": f"q{i}"} for i in range(MAX_HISTORY_MESSAGES - 2)]
    assert await sessions.append_turn(engine, user_id, session_id, older + results + latest, "r")
    turn = await ChatHistory(engine).begin(user_id, _ask("next", session_id=session_id), 5)
    assert turn is not None
    assert (await turn.request())["messages"] == [*latest, {"role": "user", "content": "next"}]


async def test_repeated_instructions_are_found_by_hash(engine: AsyncEngine) -> None:
    user_id, session_id = await _session(engine, "hash@example.com")
    rules = [{"role": "developer", "content": f"rule {i}"} for i in range(MAX_HISTORY_MESSAGES)]
    assert await sessions.append_turn(engine, user_id, session_id, rules, "r")
    again = [{"content": m["content"], "role": m["role"]} for m in rules]  # keys reordered
    other = {"role": "system", "content": "rule 1"}  # same text, another role: not a repeat
    turn = await ChatHistory(engine).begin(
        user_id, {"model": "m", "messages": [*again, other], "session_id": session_id}, 5
    )
    assert turn is not None
    assert (await turn.request())["messages"] == [*rules, other]
    assert turn.new_messages == [other]

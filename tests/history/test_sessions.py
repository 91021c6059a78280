"""The chat session store on SQLite and PostgreSQL: sessions, their messages in order, paging,
ownership and deletion."""

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.history import sessions
from gatewayz.store.tables import chat_messages

HELLO = {"role": "user", "content": "hello"}
ANSWER = {"role": "assistant", "content": "hi there"}


async def _user(engine: AsyncEngine, email: str) -> int:
    return (await accounts.create_user(engine, email)).id


async def test_turns_are_read_back_in_order_as_whole_messages(engine: AsyncEngine) -> None:
    user_id = await _user(engine, "a@example.com")
    created = await sessions.create_session(engine, user_id, "Trip", "fake/fake-model")
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    tool_answer = {"role": "assistant", "content": None, "tool_calls": [call]}
    tool_result = {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert await sessions.append_turn(engine, user_id, created.id, [HELLO, tool_answer], "req_1")
    assert await sessions.append_turn(engine, user_id, created.id, [tool_result, ANSWER], "req_2")

    found = await sessions.get_session(engine, user_id, created.id)
    assert found is not None
    record, messages = found
    assert (record.title, record.model, record.message_count) == ("Trip", "fake/fake-model", 4)
    assert record.updated_at >= created.updated_at
    assert [m.message for m in messages] == [HELLO, tool_answer, tool_result, ANSWER]
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert [m.request_id for m in messages] == ["req_1", "req_1", "req_2", "req_2"]
    assert all(m.created_at.tzinfo is not None for m in messages)
    window = await sessions.history_window(engine, user_id, created.id, 10)
    assert window is not None
    history = await sessions.load_window(engine, user_id, created.id, window)
    assert [orjson.loads(text)["content"] for text in history] == [
        "hello",
        None,
        "sunny",
        "hi there",
    ]
    assert (window.count, window.bytes) == (4, sum(len(text.encode()) for text in history))
    assert window.media_parts == 0


async def test_the_history_window_is_the_latest_messages_measured_in_the_database(
    engine: AsyncEngine,
) -> None:
    user_id = await _user(engine, "window@example.com")
    created = await sessions.create_session(engine, user_id, None, None)
    turns = [{"role": "user", "content": f"message {i} é"} for i in range(7)]  # é: 2 bytes
    assert await sessions.append_turn(engine, user_id, created.id, turns, "req_1")

    window = await sessions.history_window(engine, user_id, created.id, 3)
    assert window is not None
    latest = await sessions.load_window(engine, user_id, created.id, window)
    assert [orjson.loads(text) for text in latest] == turns[-3:]
    assert (window.count, window.bytes) == (3, sum(len(text.encode()) for text in latest))
    # A turn stored after the measure is not read with it: what is read is what was held.
    assert await sessions.append_turn(engine, user_id, created.id, turns[:1], "req_2")
    assert await sessions.load_window(engine, user_id, created.id, window) == latest


async def test_another_users_session_is_invisible(engine: AsyncEngine) -> None:
    owner = await _user(engine, "owner@example.com")
    other = await _user(engine, "other@example.com")
    created = await sessions.create_session(engine, owner, None, None)
    assert await sessions.get_session(engine, other, created.id) is None
    assert await sessions.history_window(engine, other, created.id, 10) is None
    empty = await sessions.history_window(engine, owner, created.id, 10)
    assert empty == sessions.HistoryWindow(None, None, 0, 0, 0)
    assert await sessions.load_window(engine, owner, created.id, empty) == []
    assert await sessions.list_sessions(engine, other, 10, None) == []
    assert not await sessions.delete_session(engine, other, created.id)
    assert await sessions.get_session(engine, owner, created.id) is not None


async def test_sessions_are_listed_newest_first_in_pages(engine: AsyncEngine) -> None:
    user_id = await _user(engine, "pages@example.com")
    ids = [(await sessions.create_session(engine, user_id, f"s{i}", None)).id for i in range(5)]
    await sessions.append_turn(engine, user_id, ids[1], [HELLO, ANSWER], "req_1")
    first = await sessions.list_sessions(engine, user_id, 2, None)
    assert [s.id for s in first] == [ids[4], ids[3]]
    rest = await sessions.list_sessions(engine, user_id, 10, first[-1].id)
    assert [s.id for s in rest] == [ids[2], ids[1], ids[0]]
    assert [s.message_count for s in rest] == [0, 2, 0]


async def test_deleting_a_session_deletes_its_messages(engine: AsyncEngine) -> None:
    user_id = await _user(engine, "del@example.com")
    kept = await sessions.create_session(engine, user_id, None, None)
    gone = await sessions.create_session(engine, user_id, None, None)
    await sessions.append_turn(engine, user_id, kept.id, [HELLO], "req_1")
    await sessions.append_turn(engine, user_id, gone.id, [HELLO, ANSWER], "req_2")
    assert await sessions.delete_session(engine, user_id, gone.id)
    assert await sessions.get_session(engine, user_id, gone.id) is None
    async with engine.connect() as conn:
        left = await conn.execute(
            select(chat_messages.c.session_id, func.count()).group_by(chat_messages.c.session_id)
        )
        assert left.all() == [(kept.id, 1)]
    # A turn finishing after its session was deleted is not stored.
    assert not await sessions.append_turn(engine, user_id, gone.id, [HELLO], "req_3")
    assert not await sessions.delete_session(engine, user_id, gone.id)


async def test_a_late_turn_never_lands_in_another_users_session(engine: AsyncEngine) -> None:
    """SQLite gives a deleted session's id to the next new session, maybe another user's."""
    owner = await _user(engine, "late@example.com")
    other = await _user(engine, "next@example.com")
    gone = await sessions.create_session(engine, owner, None, None)
    assert await sessions.delete_session(engine, owner, gone.id)
    theirs = await sessions.create_session(engine, other, None, None)
    assert not await sessions.append_turn(engine, owner, theirs.id, [HELLO], "req_late")
    found = await sessions.get_session(engine, other, theirs.id)
    assert found is not None and found[1] == []


async def test_the_window_counts_the_media_parts_of_its_messages(engine: AsyncEngine) -> None:
    user_id = await _user(engine, "media@example.com")
    created = await sessions.create_session(engine, user_id, None, None)
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    text = {"type": "text", "text": 'a message about "type":"image_url" is only text'}
    turns = [{"role": "user", "content": [image, image, audio, text]}]
    assert await sessions.append_turn(engine, user_id, created.id, turns, "req_1")
    window = await sessions.history_window(engine, user_id, created.id, 10)
    assert window is not None and window.media_parts == 3

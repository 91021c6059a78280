"""A user's chat sessions and their messages in the database: create, list, read, delete,
measure and load the history to inject, append a turn.

A message is stored as the JSON text of the whole OpenAI message object (role, content,
tool_calls, tool_call_id, name, ...), so what is injected is exactly what was sent or answered.
"""

import operator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Row,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.functions import byte_length
from gatewayz.store.tables import chat_messages, chat_sessions


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    title: str | None
    model: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int


# How a stored message (compact JSON, chat format) spells a media part: its tokens are not
# bounded by its bytes (see billing.worst_case), so the hold counts them apart. The same text
# inside a message's text would be escaped (\"type\"), so it is never miscounted.
_MEDIA_PARTS = ('"type":"image_url"', '"type":"input_audio"', '"type":"file"')


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """The most recent messages of a session, measured but not read: their ids run from
    `first_id` to `last_id` (None when the session is empty)."""

    first_id: int | None
    last_id: int | None
    count: int
    bytes: int
    media_parts: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    role: str
    message: dict[str, Any]
    request_id: str | None
    created_at: datetime


_COUNT = (
    select(func.count())
    .where(chat_messages.c.session_id == chat_sessions.c.id)
    .correlate(chat_sessions)
    .scalar_subquery()
    .label("message_count")
)
_COLUMNS = (
    chat_sessions.c.id,
    chat_sessions.c.title,
    chat_sessions.c.model,
    chat_sessions.c.created_at,
    chat_sessions.c.updated_at,
    _COUNT,
)


def _record(row: Row[*tuple[Any, ...]]) -> SessionRecord:
    return SessionRecord(
        row.id, row.title, row.model, _utc(row.created_at), _utc(row.updated_at), row.message_count
    )


async def create_session(
    engine: AsyncEngine, user_id: int, title: str | None, model: str | None
) -> SessionRecord:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        session_id = (
            await conn.execute(
                insert(chat_sessions)
                .values(user_id=user_id, title=title, model=model, created_at=now, updated_at=now)
                .returning(chat_sessions.c.id)
            )
        ).scalar_one()
    return SessionRecord(session_id, title, model, now, now, 0)


async def list_sessions(
    engine: AsyncEngine, user_id: int, limit: int, before: int | None
) -> list[SessionRecord]:
    """The user's sessions, newest (highest id) first, only those older than `before`."""
    query = select(*_COLUMNS).where(chat_sessions.c.user_id == user_id)
    if before is not None:
        query = query.where(chat_sessions.c.id < before)
    query = query.order_by(chat_sessions.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        return [_record(row) for row in await conn.execute(query)]


async def get_session(
    engine: AsyncEngine, user_id: int, session_id: int
) -> tuple[SessionRecord, list[StoredMessage]] | None:
    """The user's session and its messages in order, or None if the user has no such one."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(*_COLUMNS).where(
                    chat_sessions.c.id == session_id, chat_sessions.c.user_id == user_id
                )
            )
        ).first()
        if row is None:
            return None
        rows = await conn.execute(
            select(chat_messages)
            .where(chat_messages.c.session_id == session_id)
            .order_by(chat_messages.c.id)
        )
        messages = [
            StoredMessage(m.id, m.role, orjson.loads(m.content), m.request_id, _utc(m.created_at))
            for m in rows
        ]
    return _record(row), messages


async def delete_session(engine: AsyncEngine, user_id: int, session_id: int) -> bool:
    """Delete the user's session with its messages; False if the user has no such session."""
    async with engine.begin() as conn:
        owned = await conn.scalar(
            select(chat_sessions.c.id).where(
                chat_sessions.c.id == session_id, chat_sessions.c.user_id == user_id
            )
        )
        if owned is None:
            return False
        await conn.execute(delete(chat_messages).where(chat_messages.c.session_id == session_id))
        await conn.execute(delete(chat_sessions).where(chat_sessions.c.id == session_id))
    return True


async def history_window(
    engine: AsyncEngine, user_id: int, session_id: int, limit: int
) -> HistoryWindow | None:
    """The last `limit` messages of the user's session, measured in the database (one small
    query, nothing read), or None if the user has no such session."""
    content = chat_messages.c.content
    latest = (
        select(
            chat_messages.c.id,
            byte_length(content).label("size"),
            reduce(operator.add, (_occurrences(content, part) for part in _MEDIA_PARTS)).label(
                "media"
            ),
        )
        .where(chat_messages.c.session_id == session_id)
        .order_by(chat_messages.c.id.desc())
        .limit(limit)
        .subquery()
    )
    window = select(
        func.min(latest.c.id).label("first_id"),
        func.max(latest.c.id).label("last_id"),
        func.count().label("count"),
        func.coalesce(func.sum(latest.c.size), 0).label("bytes"),
        func.coalesce(func.sum(latest.c.media), 0).label("media"),
    ).subquery()
    query = (
        select(window)
        .select_from(chat_sessions.join(window, true()))
        .where(chat_sessions.c.id == session_id, chat_sessions.c.user_id == user_id)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    count = row._mapping["count"]  # `row.count` is also tuple's method to the type checker
    return HistoryWindow(row.first_id, row.last_id, count, int(row.bytes), int(row.media))


def _occurrences(column: ColumnElement[str], text: str) -> ColumnElement[int]:
    """How many times `text` occurs in the column's value, counted in the database."""
    return (func.length(column) - func.length(func.replace(column, text, ""))) // len(text)


async def load_window(
    engine: AsyncEngine, user_id: int, session_id: int, window: HistoryWindow
) -> list[str]:
    """The JSON text of each message of a measured window of the user's session, in order."""
    if window.first_id is None or window.last_id is None:
        return []
    query = (
        select(chat_messages.c.content)
        .select_from(chat_messages.join(chat_sessions))
        .where(
            chat_sessions.c.id == session_id,
            chat_sessions.c.user_id == user_id,
            chat_messages.c.id.between(window.first_id, window.last_id),
        )
        .order_by(chat_messages.c.id)
    )
    async with engine.connect() as conn:
        return list((await conn.scalars(query)).all())


async def append_turn(
    engine: AsyncEngine,
    user_id: int,
    session_id: int,
    messages: list[dict[str, Any]],
    request_id: str,
) -> bool:
    """Store a turn's messages after the session's others and touch the session, in one
    transaction; False (nothing stored) if the user's session has been deleted meanwhile
    (SQLite may have given its id to another user's new session since)."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        touched = await conn.execute(
            update(chat_sessions)
            .where(chat_sessions.c.id == session_id, chat_sessions.c.user_id == user_id)
            .values(updated_at=now)
        )
        if not touched.rowcount:
            return False
        await conn.execute(
            insert(chat_messages),
            [
                {
                    "session_id": session_id,
                    "role": message["role"],
                    "content": orjson.dumps(message).decode(),
                    "request_id": request_id,
                    "created_at": now,
                }
                for message in messages
            ],
        )
    return True


def _utc(moment: datetime) -> datetime:
    """An aware UTC datetime (SQLite returns stored datetimes without their zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

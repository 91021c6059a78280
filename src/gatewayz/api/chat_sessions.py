"""The caller's chat sessions: POST/GET /v1/chat/sessions, GET/DELETE /v1/chat/sessions/{id}.

A chat completion with `session_id` continues a session (see gatewayz.history.turns).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.admin_params import QueryId, RowId, Text
from gatewayz.api.deps import ChatHistoryDep, EngineDep
from gatewayz.errors import NotFound
from gatewayz.history import sessions
from gatewayz.history.sessions import SessionRecord, StoredMessage
from gatewayz.store.times import iso

router = APIRouter(prefix="/v1/chat/sessions", tags=["chat sessions"])
Caller = Annotated[Principal, Depends(current_principal)]
SessionId = RowId


class NewSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(default=None, max_length=300)
    model: Text | None = Field(default=None, max_length=300)


@router.post("", status_code=201)
async def create_session(
    engine: EngineDep, caller: Caller, body: Annotated[NewSession | None, Body()] = None
) -> dict[str, Any]:
    """Start an empty session; `title` and `model` are labels for the caller's own use."""
    body = body or NewSession()
    record = await sessions.create_session(engine, caller.user_id, body.title, body.model)
    return _session(record)


@router.get("")
async def list_sessions(
    engine: EngineDep,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: QueryId = None,
) -> dict[str, Any]:
    """The caller's sessions, newest first; the next page is `?before=<last_id>`."""
    found = await sessions.list_sessions(engine, caller.user_id, limit + 1, before)
    page = found[:limit]
    return {
        "object": "list",
        "data": [_session(record) for record in page],
        "has_more": len(found) > limit,
        "last_id": page[-1].id if page else None,
    }


@router.get("/{session_id}")
async def get_session(
    chat_history: ChatHistoryDep, engine: EngineDep, caller: Caller, session_id: SessionId
) -> dict[str, Any]:
    """The session with its messages, oldest first (a turn that just ended included)."""
    await chat_history.settled(session_id)
    found = await sessions.get_session(engine, caller.user_id, session_id)
    if found is None:
        raise _not_found(session_id)
    record, messages = found
    return {**_session(record), "messages": [_message(message) for message in messages]}


@router.delete("/{session_id}")
async def delete_session(
    engine: EngineDep, caller: Caller, session_id: SessionId
) -> dict[str, Any]:
    """Delete the session and its messages."""
    if not await sessions.delete_session(engine, caller.user_id, session_id):
        raise _not_found(session_id)
    return {"id": session_id, "object": "chat.session.deleted", "deleted": True}


def _not_found(session_id: int) -> NotFound:
    return NotFound(f"No chat session with id {session_id}.", param="session_id")


def _session(record: SessionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "chat.session",
        "title": record.title,
        "model": record.model,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "message_count": record.message_count,
    }


def _message(message: StoredMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "message": message.message,
        "request_id": message.request_id,
        "created_at": iso(message.created_at),
    }

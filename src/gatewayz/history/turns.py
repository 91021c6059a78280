"""Chat completions in a session: the session's latest MAX_HISTORY_MESSAGES messages are
sent before the request's messages, and the turn (the new messages and the answer) is stored
once the answer is complete, off the request path.

The history is measured before the call (its size feeds the credit hold) and read only once
the call holds its credit, so a caller who cannot pay never has it read. A system or
developer message that is already in the history sent (clients often repeat their system
prompt each turn) is neither sent twice nor stored twice.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.history.sessions import HistoryWindow, append_turn, history_window, load_window

log = logging.getLogger(__name__)

SESSION_FIELD = "session_id"
MAX_HISTORY_MESSAGES = 1000  # the most recent messages of a session sent with each call
_WRITE_ATTEMPTS = 3
_INSTRUCTIONS = frozenset({"system", "developer"})
_MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL

Json = dict[str, Any]


def session_id_of(value: Any) -> int:
    """The session id a request names: an integer, or a string of digits."""
    if isinstance(value, str) and value.isdecimal() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise InvalidRequest(
            "'session_id' must be the id of one of your chat sessions (a positive integer).",
            param=SESSION_FIELD,
        )
    return value


@dataclass(slots=True)
class Turn:
    """One chat completion in a session."""

    user_id: int
    session_id: int
    body: Json
    """The request as sent, without session_id: what routing and the credit hold read."""
    body_size: int
    """The request's size with the history's: what the credit hold covers."""
    window: HistoryWindow
    history: "ChatHistory"
    new_messages: list[Json] | None = None
    _request: Json | None = None

    async def request(self) -> Json:
        """The request as it goes upstream: the history, then the new messages (read once,
        after the call holds its credit)."""
        if self._request is None:
            stored = await self.history.read(self.user_id, self.session_id, self.window)
            sent = _without_orphan_results([orjson.loads(text) for text in stored])
            instructions = {_key(m) for m in sent if m.get("role") in _INSTRUCTIONS}
            self.new_messages = [
                m
                for m in self.body["messages"]
                if not (m.get("role") in _INSTRUCTIONS and _key(m) in instructions)
            ]
            self._request = {**self.body, "messages": [*sent, *self.new_messages]}
        return self._request

    def finish(self, answer: Json | None, request_id: str) -> None:
        """Store the new messages and the answer of the request `request_id` (nothing if there
        is no answer)."""
        if answer is not None and self.new_messages is not None:
            self.history.record(
                self.user_id, self.session_id, [*self.new_messages, answer], request_id
            )


def _key(message: Json) -> bytes:
    """A message's identity for finding repeats: its JSON with sorted keys."""
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


def _without_orphan_results(messages: list[Json]) -> list[Json]:
    """The history without leading tool results whose call fell out of the window."""
    start = 0
    while start < len(messages) and messages[start].get("role") == "tool":
        start += 1
    return messages[start:]


class ChatHistory:
    """Loads sessions for requests and writes their turns in the background, in order.

    A turn's write waits for the session's previous write, and loading a session waits for
    its pending write, so a follow-up sent as soon as an answer arrives sees that answer.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pending: dict[int, asyncio.Task[None]] = {}

    async def begin(self, user_id: int, body: Json, body_size: int) -> Turn | None:
        """The turn of a request naming a session (404 if the caller has no such session),
        its history measured but not read; None for a request without `session_id`, without
        touching the database.

        `session_id` is taken out of `body` (also when null): it never goes upstream.
        """
        named = body.pop(SESSION_FIELD, None)
        if named is None:
            return None
        session_id = session_id_of(named)
        await self.settled(session_id)
        window = await history_window(self._engine, user_id, session_id, MAX_HISTORY_MESSAGES)
        if window is None:
            raise NotFound(f"No chat session with id {session_id}.", param=SESSION_FIELD)
        size = body_size + window.bytes + window.count
        return Turn(user_id, session_id, dict(body), size, window, self)

    async def read(self, user_id: int, session_id: int, window: HistoryWindow) -> list[str]:
        """The stored messages of a measured window, in order."""
        return await load_window(self._engine, user_id, session_id, window)

    def record(self, user_id: int, session_id: int, messages: list[Json], request_id: str) -> None:
        """Write a turn after the session's earlier ones, off the request path."""
        previous = self._pending.get(session_id)
        task = asyncio.create_task(self._write(previous, user_id, session_id, messages, request_id))
        self._pending[session_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._pending.get(session_id) is done:
                del self._pending[session_id]

        task.add_done_callback(forget)

    async def drain(self) -> None:
        """Wait for every pending write (at shutdown)."""
        while self._pending:
            await asyncio.wait(list(self._pending.values()))

    async def settled(self, session_id: int) -> None:
        """Wait for the session's pending write in this process, if any."""
        pending = self._pending.get(session_id)
        if pending is not None:
            await asyncio.wait([pending])

    async def _write(
        self,
        previous: asyncio.Task[None] | None,
        user_id: int,
        session_id: int,
        messages: list[Json],
        request_id: str,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                await append_turn(self._engine, user_id, session_id, messages, request_id)
                return
            except Exception:
                log.exception(
                    "chat session %d: storing request %s failed (attempt %d)",
                    session_id,
                    request_id,
                    attempt + 1,
                )
                await asyncio.sleep(0.1 * 2**attempt)

"""Dashboard sessions: a browser signed in as a user.

Each session acts through an API key of its own ("dashboard session"), created when the
session opens and revoked when it ends, so everything the dashboard does goes through the
API's own authentication, permissions, audit and request log under that key. The key never
leaves the server: it is kept encrypted with the server secret in the session's row, and the
browser holds only a random session token (stored as its keyed hash).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import key_store
from gatewayz.accounts.secret_box import SecretBox, UndecryptableSecret
from gatewayz.accounts.web_tokens import new_token, token_hash
from gatewayz.store.tables import api_keys, web_sessions
from gatewayz.store.times import utc

SESSION_KEY_NAME = "dashboard session"


@dataclass(frozen=True, slots=True)
class WebSession:
    """An open session; `api_key` is its key, for in-process API calls only."""

    id: int
    user_id: int
    key_id: int
    api_key: str
    method: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a user is shown about one of their open sessions."""

    id: int
    method: str
    source_ip: str | None
    user_agent: str | None
    created_at: datetime
    expires_at: datetime


class WebSessions:
    """Opens, finds and ends sessions; `max_keys` is the per-user key limit."""

    def __init__(
        self,
        engine: AsyncEngine,
        server_secret: bytes,
        box: SecretBox,
        lifetime: timedelta,
        max_keys: int,
    ) -> None:
        self._engine = engine
        self._secret = server_secret
        self._box = box
        self._lifetime = lifetime
        self._max_keys = max_keys

    async def open(
        self, user_id: int, method: str, source_ip: str | None, user_agent: str | None
    ) -> str:
        """A new session for the user, signed in by `method` ("password", "api_key",
        "signup" or "reset"); returns its token for the cookie."""
        await self.end_expired(user_id)
        actor = key_store.Actor(user_id, None, source_ip)
        key, record = await key_store.create(
            self._engine,
            self._secret,
            actor,
            name=SESSION_KEY_NAME,
            environment="live",
            restrictions={},
            limits=None,
            max_keys=self._max_keys,
        )
        token, now = new_token(), datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(
                web_sessions.insert().values(
                    user_id=user_id,
                    key_id=record.id,
                    token_hash=token_hash(self._secret, token),
                    key_box=self._box.encrypt(key),
                    method=method,
                    source_ip=source_ip,
                    user_agent=(user_agent or "")[:300] or None,
                    created_at=now,
                    expires_at=now + self._lifetime,
                )
            )
        return token

    async def find(self, token: str) -> WebSession | None:
        """The open session of `token`: not ended, not expired, its key not revoked."""
        query = (
            select(web_sessions)
            .join(api_keys, api_keys.c.id == web_sessions.c.key_id)
            .where(
                web_sessions.c.token_hash == token_hash(self._secret, token),
                web_sessions.c.ended_at.is_(None),
                web_sessions.c.expires_at > datetime.now(UTC),
                api_keys.c.revoked_at.is_(None),
            )
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        try:
            key = self._box.decrypt(row.key_box)
        except UndecryptableSecret:
            return None
        return WebSession(
            row.id,
            row.user_id,
            row.key_id,
            key,
            row.method,
            utc(row.created_at),
            utc(row.expires_at),
        )

    async def list_open(self, user_id: int) -> list[SessionInfo]:
        query = (
            select(web_sessions)
            .where(
                web_sessions.c.user_id == user_id,
                web_sessions.c.ended_at.is_(None),
                web_sessions.c.expires_at > datetime.now(UTC),
            )
            .order_by(web_sessions.c.id.desc())
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            SessionInfo(
                r.id, r.method, r.source_ip, r.user_agent, utc(r.created_at), utc(r.expires_at)
            )
            for r in rows
        ]

    async def end(self, user_id: int, session_id: int, source_ip: str | None) -> list[int]:
        """End one of the user's sessions; the ids of the keys revoked."""
        return await self._end(user_id, source_ip, web_sessions.c.id == session_id)

    async def end_all(self, user_id: int, source_ip: str | None) -> list[int]:
        """End every session of the user (after a password change or reset)."""
        return await self._end(user_id, source_ip)

    async def end_expired(self, user_id: int) -> list[int]:
        """Revoke the keys of the user's sessions that expired without being ended."""
        return await self._end(user_id, None, web_sessions.c.expires_at <= datetime.now(UTC))

    async def _end(self, user_id: int, source_ip: str | None, *where: object) -> list[int]:
        query = select(web_sessions.c.id, web_sessions.c.key_id).where(
            web_sessions.c.user_id == user_id, web_sessions.c.ended_at.is_(None), *where
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(query)).all()
            if rows:
                await conn.execute(
                    update(web_sessions)
                    .where(web_sessions.c.id.in_([r.id for r in rows]))
                    .values(ended_at=datetime.now(UTC))
                )
        actor = key_store.Actor(user_id, None, source_ip)
        for row in rows:
            await key_store.revoke(self._engine, actor, row.key_id)
        return [row.key_id for row in rows]

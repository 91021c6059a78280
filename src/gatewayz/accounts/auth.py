"""Who is calling: API key -> principal, cached briefly, revocable."""

import asyncio
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.key_policy import UNRESTRICTED, KeyPolicy
from gatewayz.accounts.keys import hash_key
from gatewayz.accounts.roles import ADMIN_ROLE, role_permissions
from gatewayz.errors import AuthenticationFailed
from gatewayz.store.tables import api_keys, roles, users
from gatewayz.telemetry.context import note_key

_MAX_CACHED = 100_000


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: a user acting through one of their keys."""

    user_id: int
    key_id: int
    email: str
    role: str
    permissions: frozenset[str] = frozenset()
    policy: KeyPolicy = UNRESTRICTED

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE


class Authenticator:
    """Checks API keys against their stored hashes, caching hits for `cache_seconds`.

    A cached key is looked up again in the background once half its time has passed, so
    keys in steady use never wait for the database; a key not confirmed within
    `cache_seconds` (revoked, or simply unused) is looked up before it is accepted again.
    Concurrent first uses of a key share one lookup.
    """

    def __init__(self, engine: AsyncEngine, server_secret: bytes, cache_seconds: float) -> None:
        self._engine = engine
        self._secret = server_secret
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._lookups: dict[str, asyncio.Future[Principal | None]] = {}

    async def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'."
            )
        digest = hash_key(self._secret, key)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            if hit[1] - now < self._ttl / 2 and digest not in self._lookups:
                self._lookup_once(digest)
            return hit[0]
        principal = await asyncio.shield(self._lookup_once(digest))
        if principal is None:
            raise AuthenticationFailed("Invalid API key.")
        return principal

    def _lookup_once(self, digest: str) -> "asyncio.Future[Principal | None]":
        """The lookup of `digest` in flight, or a new one; its result updates the cache."""
        future = self._lookups.get(digest)
        if future is None:
            future = self._lookups[digest] = asyncio.ensure_future(self._lookup(digest))
            future.add_done_callback(lambda done: self._remember(digest, done))
        return future

    def _remember(self, digest: str, done: "asyncio.Future[Principal | None]") -> None:
        self._lookups.pop(digest, None)
        if done.cancelled() or done.exception() is not None or done.result() is None:
            self._cache.pop(digest, None)
            return
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[digest] = (done.result(), time.monotonic() + self._ttl)

    async def _lookup(self, digest: str) -> Principal | None:
        query = (
            select(
                api_keys.c.user_id,
                api_keys.c.id,
                users.c.email,
                users.c.role,
                roles.c.permissions,
                api_keys.c.environment,
                api_keys.c.scopes,
                api_keys.c.expires_at,
                api_keys.c.ip_allowlist,
                api_keys.c.referrers,
                api_keys.c.spend_limit_units,
            )
            .join(users, users.c.id == api_keys.c.user_id)
            .outerjoin(roles, roles.c.name == users.c.role)
            .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        user_id, key_id, email, role, stored_permissions, *policy = row
        return Principal(
            user_id,
            key_id,
            email,
            role,
            role_permissions(role, stored_permissions),
            KeyPolicy.from_row(*policy),
        )


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer` or `x-api-key`."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or a 401 in the API's error format."""
    principal: Principal = await request.app.state.authenticator.authenticate(
        presented_key(request)
    )
    note_key(principal.key_id)
    return principal

"""Who is calling: API key -> principal, cached briefly, revocable."""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.accounts.key_checks import enforce
from gatewayz.accounts.key_policy import UNRESTRICTED, KeyPolicy, as_utc
from gatewayz.accounts.keys import hash_key
from gatewayz.accounts.roles import role_permissions
from gatewayz.app_services import services_of
from gatewayz.errors import AuthenticationFailed, api_format
from gatewayz.store.tables import api_keys, roles, users
from gatewayz.telemetry.context import note_key

_MAX_CACHED = 100_000


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: a user acting through one of their keys.

    A key rotated out but still in its grace period acts as the key that replaced it (its
    restrictions, spending limit and rate limits; `policy.rotated` is set, which allows calls
    only): `key_id` is the replacement's, `rotated_from` the rotated-out keys on the way
    there, the presented one first."""

    user_id: int
    key_id: int
    email: str
    role: str
    permissions: frozenset[str] = frozenset()
    policy: KeyPolicy = UNRESTRICTED
    rotated_from: tuple[int, ...] = ()


class Authenticator:
    """Checks API keys against their stored hashes, caching hits for `cache_seconds`.

    A cached key is looked up again in the background once half its time has passed, so
    keys in steady use never wait for the database; a key not confirmed within
    `cache_seconds` (revoked, or simply unused) is looked up before it is accepted again.
    Concurrent first uses of a key share one lookup, and a refused key is refused again
    without a lookup for `cache_seconds`, so a flood of bad keys cannot load the database.
    `forget` drops a key at once after a change made in this process (other processes notice
    within `cache_seconds`), also from the principals of keys rotated into it.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        server_secret: bytes,
        cache_seconds: float,
        previous_secrets: Sequence[bytes] = (),
    ) -> None:
        self._engine = engine
        self._secret = server_secret
        self._previous = tuple(previous_secrets)
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._refused: dict[str, float] = {}
        self._lookups: dict[str, asyncio.Future[Principal | None]] = {}
        self._generation = 0

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
                self._lookup_once(digest, key)
            return hit[0]
        if self._refused.get(digest, 0.0) > now:
            raise AuthenticationFailed("Invalid API key.")
        principal = await asyncio.shield(self._lookup_once(digest, key))
        if principal is None:
            raise AuthenticationFailed("Invalid API key.")
        return principal

    def forget_all(self) -> None:
        """Drop every cached principal, so a change of roles or permissions applies at once."""
        self._cache.clear()

    def _lookup_once(self, digest: str, key: str) -> "asyncio.Future[Principal | None]":
        """The lookup of `digest` (or of the key's hash under a previous server secret) in
        flight, or a new one; its result updates the cache."""
        future = self._lookups.get(digest)
        if future is None:
            old = tuple(hash_key(secret, key) for secret in self._previous)
            future = self._lookups[digest] = asyncio.ensure_future(self._lookup(digest, old))
            generation = self._generation
            future.add_done_callback(lambda done: self._remember(digest, done, generation))
        return future

    def _remember(
        self, digest: str, done: "asyncio.Future[Principal | None]", generation: int
    ) -> None:
        if self._lookups.get(digest) is done:
            del self._lookups[digest]
        if generation != self._generation or done.cancelled() or done.exception() is not None:
            self._cache.pop(digest, None)
            return
        principal = done.result()
        if principal is None:  # unknown or revoked: it never becomes valid again
            self._cache.pop(digest, None)
            if len(self._refused) >= _MAX_CACHED:
                self._refused.clear()
            self._refused[digest] = time.monotonic() + self._ttl
            return
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[digest] = (principal, time.monotonic() + self._ttl)

    def forget(self, key_id: int) -> None:
        """Drop the cached principal of a key that was just changed, rotated or revoked; a
        lookup in flight (which may have read the key before the change) is not cached."""
        self._generation += 1
        self._lookups.clear()
        for digest, (principal, _) in list(self._cache.items()):
            if principal.key_id == key_id or key_id in principal.rotated_from:
                del self._cache[digest]

    async def _lookup(self, digest: str, old_digests: tuple[str, ...]) -> Principal | None:
        """The key's principal; a key found by its hash under a previous server secret is
        hashed again under the current one, so the previous secret can be retired."""
        async with self._engine.connect() as conn:
            row = await _key_row(conn, api_keys.c.key_hash.in_((digest, *old_digests)))
            if row is None:
                return None
            rotated = row.replaced_by is not None
            principal = await _as_replacement(conn, row) if rotated else _principal(row)
        if row.key_hash != digest:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(api_keys).where(api_keys.c.id == row.id).values(key_hash=digest)
                )
        return principal


_POLICY_COLUMNS = (
    api_keys.c.environment,
    api_keys.c.scopes,
    api_keys.c.expires_at,
    api_keys.c.ip_allowlist,
    api_keys.c.referrers,
    api_keys.c.spend_limit_units,
    api_keys.c.replaced_by,
)
_KEY_QUERY = (
    select(
        api_keys.c.user_id,
        api_keys.c.id,
        users.c.email,
        users.c.role,
        roles.c.permissions,
        *_POLICY_COLUMNS,
        api_keys.c.key_hash,
    )
    .join(users, users.c.id == api_keys.c.user_id)
    .outerjoin(roles, roles.c.name == users.c.role)
    .where(api_keys.c.revoked_at.is_(None))
)


async def _key_row(conn: AsyncConnection, *where: Any) -> Row[*tuple[Any, ...]] | None:
    """The key that is not revoked and matches `where`, with its user."""
    return (await conn.execute(_KEY_QUERY.where(*where))).first()


def _principal(row: Row[Any]) -> Principal:
    policy = KeyPolicy.from_row(*(row._mapping[column] for column in _POLICY_COLUMNS))
    permissions = role_permissions(row.role, row.permissions)
    return Principal(row.user_id, row.id, row.email, row.role, permissions, policy)


async def _as_replacement(conn: AsyncConnection, rotated: Row[Any]) -> Principal | None:
    """The principal of a rotated-out key: the key at the end of its replacements (None if one
    of them is revoked), valid until the earliest expiry along the way, for calls only."""
    chain = [rotated]
    while chain[-1].replaced_by is not None:
        if any(row.id == chain[-1].replaced_by for row in chain):
            return None
        found = await _key_row(
            conn, api_keys.c.id == chain[-1].replaced_by, api_keys.c.user_id == rotated.user_id
        )
        if found is None:
            return None
        chain.append(found)
    latest = _principal(chain[-1])
    ends = [end for row in chain if (end := as_utc(row.expires_at)) is not None]
    rotated_policy = replace(latest.policy, expires_at=min(ends, default=None), rotated=True)
    return replace(latest, policy=rotated_policy, rotated_from=tuple(row.id for row in chain[:-1]))


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer`, `x-api-key` or `x-goog-api-key` (Google's SDKs),
    or, on the Gemini-format API only, from `?key=` as Google's API takes it."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("x-api-key") or request.headers.get("x-goog-api-key")
    if not key and api_format(request) == "gemini":
        key = request.query_params.get("key")
    return key or None


# Where `identify` keeps the request's principal in its ASGI scope.
PRINCIPAL_SCOPE_KEY = "gatewayz.principal"


async def identify(request: Request) -> Principal:
    """The authenticated caller, also kept in the request's scope; AuthenticationFailed (401)
    for a missing, unknown or revoked key, KeyRestricted (403) for a request breaking one of
    the key's restrictions (both audited). Reads the headers only, never the body."""
    presented = presented_key(request)
    services = services_of(request.app)
    try:
        principal = await services.authenticator.authenticate(presented)
    except AuthenticationFailed:
        services.failed_logins.failed(request, presented)
        raise
    note_key(principal.key_id)
    if principal.policy.restricted:
        enforce(request, principal.user_id, principal.key_id, principal.policy)
    request.scope[PRINCIPAL_SCOPE_KEY] = principal
    return principal


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller (see `identify`), as identified before
    the body was read when the app's middleware did so."""
    principal: Principal | None = request.scope.get(PRINCIPAL_SCOPE_KEY)
    return principal if principal is not None else await identify(request)

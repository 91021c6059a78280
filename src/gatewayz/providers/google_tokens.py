"""OAuth access tokens for `auth: google` providers, fetched over the shared session."""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from gatewayz.errors import UpstreamError
from gatewayz.providers.google_credentials import ServiceAccount
from gatewayz.providers.http_errors import mapped_transport_errors
from gatewayz.providers.table import Provider

log = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_EARLY_SECONDS = 300.0  # a token is replaced this long before it expires
_monotonic = time.monotonic  # tests shift this clock to expire tokens


@dataclass(slots=True)
class _Token:
    value: str = ""
    fresh_until: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class GoogleTokens:
    """Bearer headers for service-account providers; one refresh at a time per provider."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._tokens: dict[str, _Token] = {}

    async def headers(self, provider: Provider) -> dict[str, str]:
        """`Authorization: Bearer <token>` for an `auth: google` provider, else nothing."""
        account = provider.service_account
        if account is None:
            return {}
        token = self._tokens.setdefault(provider.name, _Token())
        if _monotonic() >= token.fresh_until:
            async with token.lock:
                if _monotonic() >= token.fresh_until:
                    started = _monotonic()
                    token.value, lifetime = await self._fetch(provider, account)
                    token.fresh_until = started + lifetime - min(_EARLY_SECONDS, lifetime / 2)
        return {"Authorization": f"Bearer {token.value}"}

    async def _fetch(self, provider: Provider, account: ServiceAccount) -> tuple[str, float]:
        """Exchange a signed JWT for an access token and its lifetime in seconds."""
        form = {"grant_type": GRANT_TYPE, "assertion": account.assertion(time.time())}
        limits = aiohttp.ClientTimeout(total=30, sock_connect=provider.spec.connect_timeout_seconds)
        with mapped_transport_errors(provider.name):
            async with self._session.post(account.token_uri, data=form, timeout=limits) as reply:
                raw = await reply.read()
                status = reply.status
        data = _json_object(raw)
        token, lifetime = data.get("access_token"), data.get("expires_in", 3600)
        if status >= 500:
            raise UpstreamError(provider.name, f"token endpoint failed with status {status}")
        if status >= 300 or not isinstance(token, str) or not token:
            reason = data.get("error_description") or data.get("error") or f"status {status}"
            log.warning("%s: no access token for %s: %s", provider.name, account.email, reason)
            raise UpstreamError(
                provider.name,
                "refused the gateway's service-account credentials",
                status=502,
                code="upstream_auth_failed",
            )
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
            lifetime = 3600
        return token, float(lifetime)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}

"""Foreign errors translated once: aiohttp failures and upstream statuses to UpstreamError."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import orjson

from gatewayz.errors import UpstreamError

# Upstream statuses that mean the request itself is wrong: the client sees the same status.
_CLIENT_FAULT = frozenset({400, 404, 409, 413, 422})


@contextmanager
def mapped_transport_errors(provider: str) -> Iterator[None]:
    """Turn connection failures and timeouts into UpstreamError naming the provider."""
    try:
        yield
    except TimeoutError as exc:
        raise UpstreamError(provider, "timed out", status=504, code="upstream_timeout") from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError(
            provider, "unreachable", status=503, code="upstream_unavailable"
        ) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        raise UpstreamError(provider, "closed the connection mid-response") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(provider, f"request failed ({type(exc).__name__})") from exc
    except asyncio.CancelledError:
        raise


def upstream_message(body: bytes) -> str:
    """The upstream's own error message, if its body has one."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip() or "no error message"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return "no error message"


def status_error(
    provider: str, status: int, body: bytes, retry_after: str | None, *, user_key: bool = False
) -> UpstreamError:
    """The error a client sees for an upstream's non-2xx answer; `user_key`: the request
    carried the caller's own key, so a refused key is theirs to fix (403, not retried)."""
    message = upstream_message(body)
    if status in _CLIENT_FAULT:
        return UpstreamError(provider, message, status=status, code="upstream_rejected_request")
    if status in (401, 403) and user_key:
        return UpstreamError(
            provider,
            f"your {provider} key was rejected (HTTP {status}); replace it with "
            f"PUT /user/provider-keys/{provider} or delete it",
            status=403,
            code="provider_key_rejected",
        )
    if status in (401, 403):
        return UpstreamError(
            provider,
            "rejected the gateway's credentials for this provider",
            status=502,
            code="upstream_auth_failed",
        )
    if status == 429:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return UpstreamError(
            provider,
            f"rate limited: {message}",
            status=429,
            code="upstream_rate_limited",
            headers=headers,
        )
    if status == 504:
        return UpstreamError(provider, f"timed out: {message}", status=504, code="upstream_timeout")
    return UpstreamError(provider, f"failed with status {status}: {message}", status=502)

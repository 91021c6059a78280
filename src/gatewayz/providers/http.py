"""Requests to upstreams over the shared session, with errors mapped once."""

from typing import Any

import aiohttp
import orjson

from gatewayz.errors import UpstreamError
from gatewayz.providers.http_errors import mapped_transport_errors, status_error
from gatewayz.providers.sse import SSEStream
from gatewayz.providers.table import Provider

_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_SSE = {"Content-Type": "application/json", "Accept": "text/event-stream"}


def timeout(provider: Provider, *, stream: bool) -> aiohttp.ClientTimeout:
    """Connect and total limits; a stream also may not stall longer than the idle limit."""
    spec = provider.spec
    return aiohttp.ClientTimeout(
        total=spec.timeout_seconds,
        sock_connect=spec.connect_timeout_seconds,
        sock_read=spec.idle_timeout_seconds if stream else None,
    )


async def post_json(
    session: aiohttp.ClientSession,
    provider: Provider,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """POST a JSON body; the raw answer and its decoded object, or UpstreamError."""
    with mapped_transport_errors(provider.name):
        async with session.post(
            url,
            data=orjson.dumps(body),
            headers={**_JSON, **provider.request_headers(), **(headers or {})},
            timeout=timeout(provider, stream=False),
        ) as response:
            raw = await response.read()
            if response.status >= 300:
                raise status_error(
                    provider.name,
                    response.status,
                    raw,
                    response.headers.get("Retry-After"),
                    user_key=provider.user_key,
                )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(provider.name, "answered with a body that is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError(provider.name, "answered with JSON that is not an object")
    return raw, data


async def open_stream(
    session: aiohttp.ClientSession,
    provider: Provider,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    is_last: Any = None,
) -> SSEStream:
    """POST a JSON body and return its event stream once the upstream answered 200."""
    with mapped_transport_errors(provider.name):
        response = await session.post(
            url,
            data=orjson.dumps(body),
            headers={**_SSE, **provider.request_headers(), **(headers or {})},
            timeout=timeout(provider, stream=True),
        )
        if response.status != 200:
            try:
                raw = await response.read()
            finally:
                response.release()
            raise status_error(
                provider.name,
                response.status,
                raw,
                response.headers.get("Retry-After"),
                user_key=provider.user_key,
            )
    return SSEStream(provider.name, response, is_last)

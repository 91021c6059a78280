"""Relay one client call: pick the route, hold the worst-case cost, forward, settle, log.

This is the request path of DESIGN.md below the API layer. It knows the format of the
call (OpenAI chat completions) but nothing of HTTP servers.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.auth import Principal
from gatewayz.billing import ledger
from gatewayz.billing.money import call_cost_units
from gatewayz.errors import GatewayError, InsufficientCredits, ModelNotFound, UpstreamError
from gatewayz.protocols import openai_chat
from gatewayz.protocols.usage import Usage, estimate, from_openai
from gatewayz.providers.base import ChatAdapter, UpstreamStream
from gatewayz.providers.catalog import Catalog, Route
from gatewayz.store.batch import BatchWriter
from gatewayz.telemetry.request_log import RequestLogRow

CLIENT_CLOSED = 499


@dataclass(slots=True)
class Call:
    """What the gateway knows about one call while it runs."""

    request_id: str
    principal: Principal
    body: dict[str, Any]
    body_size: int
    route: Route
    reserved_units: int
    started: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None


class Relay:
    def __init__(
        self,
        engine: AsyncEngine,
        catalog: Catalog,
        adapters: dict[str, ChatAdapter],
        writer: BatchWriter,
        default_max_output_tokens: int,
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self._adapters = adapters
        self._writer = writer
        self._default_max_output = default_max_output_tokens

    async def chat(
        self, principal: Principal, body: dict[str, Any], body_size: int, request_id: str
    ) -> bytes:
        """A non-streamed chat completion: the upstream's answer, byte for byte."""
        call = await self._begin(principal, body, body_size, request_id)
        usage: Usage | None = None
        status, error = 200, None
        try:
            reply = await self._adapter(call.route).chat(
                call.route.provider, self._upstream_body(call)
            )
            usage = from_openai(reply.data.get("usage")) or estimate(
                body_size, _reply_tokens(reply.data)
            )
            return reply.body
        except GatewayError as exc:
            status, error = exc.status, exc.message
            raise
        except asyncio.CancelledError:
            status, error = CLIENT_CLOSED, "client closed the connection"
            raise
        finally:
            self._finish(call, usage, status, error)

    async def open_chat_stream(
        self, principal: Principal, body: dict[str, Any], body_size: int, request_id: str
    ) -> AsyncIterator[bytes]:
        """Open the upstream stream; errors before the first byte raise here, as HTTP errors."""
        call = await self._begin(principal, body, body_size, request_id)
        try:
            stream = await self._adapter(call.route).chat_stream(
                call.route.provider, self._upstream_body(call)
            )
        except GatewayError as exc:
            self._finish(call, None, exc.status, exc.message)
            raise
        except asyncio.CancelledError:
            self._finish(call, None, CLIENT_CLOSED, "client closed the connection")
            raise
        return self._relay_stream(call, stream)

    async def _relay_stream(self, call: Call, stream: UpstreamStream) -> AsyncIterator[bytes]:
        """Forward events as they arrive, then settle, however the stream ends."""
        wants_usage = openai_chat.wants_stream_usage(call.body)
        usage: Usage | None = None
        chunks = 0
        status, error = 200, None
        provider = call.route.provider.name
        try:
            async for data in stream:
                if call.first_byte is None:
                    call.first_byte = time.perf_counter()
                try:
                    out, reported = openai_chat.stream_event(data, wants_usage)
                except openai_chat.UpstreamStreamError as exc:
                    raise UpstreamError(provider, exc.message) from None
                except ValueError:
                    raise UpstreamError(provider, "sent a malformed stream event") from None
                if reported is not None:
                    usage = reported
                if out is not None:
                    chunks += 1
                    yield b"data: " + out + b"\n\n"
            yield b"data: [DONE]\n\n"
        except UpstreamError as exc:
            status, error = exc.status, exc.message
            yield openai_chat.error_event(
                {
                    "error": {
                        "message": exc.message,
                        "type": exc.type,
                        "param": None,
                        "code": exc.code,
                    }
                }
            )
        except (asyncio.CancelledError, GeneratorExit):
            status, error = CLIENT_CLOSED, "client closed the connection"
            raise
        finally:
            await stream.aclose()
            if usage is None and chunks:
                usage = estimate(call.body_size, chunks)
            self._finish(call, usage, status, error)

    async def _begin(
        self, principal: Principal, body: dict[str, Any], body_size: int, request_id: str
    ) -> Call:
        candidates = self._catalog.candidates(body["model"])
        if not candidates:
            raise ModelNotFound(body["model"])
        route = candidates[0]
        max_output = (
            openai_chat.max_output_tokens(body)
            or route.model.max_output_tokens
            or self._default_max_output
        )
        worst_case = call_cost_units(route.model, body_size, max_output)
        if not await ledger.reserve(self._engine, principal.user_id, worst_case):
            raise InsufficientCredits(
                f"Insufficient credits: this call may cost up to {worst_case / 10**9:.9f} credits "
                f"({max_output} output tokens at most). Add credits or lower max_tokens."
            )
        return Call(request_id, principal, body, body_size, route, worst_case)

    def _adapter(self, route: Route) -> ChatAdapter:
        return self._adapters[route.provider.spec.protocol]

    @staticmethod
    def _upstream_body(call: Call) -> dict[str, Any]:
        return openai_chat.upstream_request(
            call.body, call.route.model.id, call.route.provider.spec.quirks
        )

    def _finish(self, call: Call, usage: Usage | None, status: int, error: str | None) -> None:
        """Queue the settlement and the request log row (written off the request path)."""
        now = time.perf_counter()
        cost = (
            call_cost_units(call.route.model, usage.input_tokens, usage.output_tokens)
            if usage
            else 0
        )
        self._writer.add(
            "settlements",
            ledger.Settlement(
                user_id=call.principal.user_id,
                request_id=call.request_id,
                reserved_units=call.reserved_units,
                cost_units=cost,
                reason=call.route.public_id,
            ),
        )
        self._writer.add(
            "request_logs",
            RequestLogRow(
                request_id=call.request_id,
                user_id=call.principal.user_id,
                key_id=call.principal.key_id,
                api="chat.completions",
                model=call.body["model"],
                provider=call.route.provider.name,
                provider_model=call.route.model.id,
                stream=bool(call.body.get("stream")),
                status_code=status,
                error=error,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                usage_estimated=usage.estimated if usage else False,
                cost_units=cost,
                latency_ms=round((now - call.started) * 1000),
                ttft_ms=round((call.first_byte - call.started) * 1000) if call.first_byte else None,
                created_at=datetime.now(UTC),
            ),
        )


def _reply_tokens(data: dict[str, Any]) -> int:
    """About four characters per token of the answer's text, when usage is missing."""
    text = 0
    for choice in data.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            text += len(message["content"])
    return max(1, text // 4)

"""Relay one client call: plan the routes, hold the worst-case cost, forward with failover,
settle, log.

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
from gatewayz.errors import GatewayError, InsufficientCredits, UpstreamError
from gatewayz.protocols import openai_chat
from gatewayz.protocols.usage import Usage, estimate, from_openai
from gatewayz.providers.base import ChatAdapter, UpstreamStream
from gatewayz.providers.catalog import Route
from gatewayz.routing.failover import Failover
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.options import parse_options, without_routing_fields
from gatewayz.routing.planner import Planner
from gatewayz.store.batch import BatchWriter
from gatewayz.telemetry.request_log import RequestLogRow

CLIENT_CLOSED = 499
_Event = tuple[bytes | None, Usage | None]


@dataclass(slots=True)
class Call:
    """What the gateway knows about one call while it runs."""

    request_id: str
    principal: Principal
    body: dict[str, Any]
    body_size: int
    routes: list[Route]
    reserved_units: int
    route: Route | None = None
    attempts: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None


@dataclass(frozen=True, slots=True)
class Relayed:
    """An answer and where it came from: the provider and the number of attempts."""

    body: bytes
    provider: str
    attempts: int


@dataclass(frozen=True, slots=True)
class RelayedStream:
    events: AsyncIterator[bytes]
    provider: str
    attempts: int


class Relay:
    def __init__(
        self,
        engine: AsyncEngine,
        planner: Planner,
        failover: Failover,
        health: HealthBoard,
        adapters: dict[str, ChatAdapter],
        writer: BatchWriter,
        default_max_output_tokens: int,
    ) -> None:
        self._engine = engine
        self._planner = planner
        self._failover = failover
        self._health = health
        self._adapters = adapters
        self._writer = writer
        self._default_max_output = default_max_output_tokens

    async def chat(
        self, principal: Principal, body: dict[str, Any], body_size: int, request_id: str
    ) -> Relayed:
        """A non-streamed chat completion: the serving upstream's answer, byte for byte."""
        call = await self._begin(principal, body, body_size, request_id)
        usage: Usage | None = None
        status, error = 200, None

        async def attempt(route: Route) -> Any:
            return await self._adapter(route).chat(route.provider, self._upstream_body(call, route))

        try:
            served = await self._failover.run(call.routes, attempt)
            call.route, call.attempts = served.route, served.attempts
            reply = served.value
            usage = from_openai(reply.data.get("usage")) or estimate(
                body_size, _reply_tokens(reply.data)
            )
            return Relayed(reply.body, served.route.provider.name, served.attempts)
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
    ) -> RelayedStream:
        """Open a stream, failing over until one upstream has sent its first event.

        Errors before that raise here (and become HTTP errors); after it, a failure ends the
        stream with an error event.
        """
        call = await self._begin(principal, body, body_size, request_id)
        try:
            served = await self._failover.run(call.routes, lambda route: self._open(call, route))
        except GatewayError as exc:
            self._finish(call, None, exc.status, exc.message)
            raise
        except asyncio.CancelledError:
            self._finish(call, None, CLIENT_CLOSED, "client closed the connection")
            raise
        call.route, call.attempts = served.route, served.attempts
        stream, first = served.value
        events = self._relay_stream(call, served.route, stream, first)
        return RelayedStream(events, served.route.provider.name, served.attempts)

    async def _open(self, call: Call, route: Route) -> tuple[UpstreamStream, _Event]:
        """Open the upstream stream and read its first event within the first-byte limit."""
        provider = route.provider
        limit = provider.spec.first_byte_timeout_seconds
        wants_usage = openai_chat.wants_stream_usage(call.body)
        try:
            async with asyncio.timeout(limit):
                stream = await self._adapter(route).chat_stream(
                    provider, self._upstream_body(call, route)
                )
                try:
                    data = await anext(stream)
                    first = _event(provider.name, data, wants_usage)
                except StopAsyncIteration:
                    await stream.aclose()
                    raise UpstreamError(
                        provider.name, "ended the stream without any event"
                    ) from None
                except BaseException:
                    await stream.aclose()
                    raise
        except TimeoutError:
            raise UpstreamError(
                provider.name,
                f"sent nothing within {limit:g} s",
                status=504,
                code="upstream_timeout",
            ) from None
        call.first_byte = time.perf_counter()
        return stream, first

    async def _relay_stream(
        self, call: Call, route: Route, stream: UpstreamStream, first: _Event
    ) -> AsyncIterator[bytes]:
        """Forward events as they arrive, then settle, however the stream ends."""
        wants_usage = openai_chat.wants_stream_usage(call.body)
        out, usage = first
        chunks = 0
        status, error = 200, None
        try:
            if out is not None:
                chunks += 1
                yield b"data: " + out + b"\n\n"
            async for data in stream:
                out, reported = _event(route.provider.name, data, wants_usage)
                if reported is not None:
                    usage = reported
                if out is not None:
                    chunks += 1
                    yield b"data: " + out + b"\n\n"
            yield b"data: [DONE]\n\n"
        except UpstreamError as exc:
            status, error = exc.status, exc.message
            self._health.record(route.provider.name, route.model.id, False, 0.0, exc.message)
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
        """Plan the routes and hold the most any of them can cost, or refuse with 402."""
        routes = self._planner.plan(parse_options(body))
        requested = openai_chat.max_output_tokens(body)
        worst_case = 0
        for route in routes:
            max_output = requested or route.model.max_output_tokens or self._default_max_output
            worst_case = max(worst_case, call_cost_units(route.model, body_size, max_output))
        if not await ledger.reserve(self._engine, principal.user_id, worst_case):
            raise InsufficientCredits(
                f"Insufficient credits: this call may cost up to {worst_case / 10**9:.9f} "
                "credits. Add credits or lower max_tokens."
            )
        return Call(request_id, principal, body, body_size, routes, worst_case)

    def _adapter(self, route: Route) -> ChatAdapter:
        return self._adapters[route.provider.spec.protocol]

    @staticmethod
    def _upstream_body(call: Call, route: Route) -> dict[str, Any]:
        return openai_chat.upstream_request(
            without_routing_fields(call.body), route.model.id, route.provider.spec.quirks
        )

    def _finish(self, call: Call, usage: Usage | None, status: int, error: str | None) -> None:
        """Queue the settlement and the request log row (written off the request path)."""
        route = call.route
        cost = 0
        if route is not None and usage is not None:
            cost = call_cost_units(route.model, usage.input_tokens, usage.output_tokens)
        self._writer.add(
            "settlements",
            ledger.Settlement(
                user_id=call.principal.user_id,
                request_id=call.request_id,
                reserved_units=call.reserved_units,
                cost_units=cost,
                reason=route.public_id if route else call.body["model"],
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
                provider=route.provider.name if route else None,
                provider_model=route.model.id if route else None,
                stream=bool(call.body.get("stream")),
                status_code=status,
                error=error,
                input_tokens=usage.input_tokens if usage and route else 0,
                output_tokens=usage.output_tokens if usage and route else 0,
                usage_estimated=usage.estimated if usage and route else False,
                cost_units=cost,
                latency_ms=round((time.perf_counter() - call.started) * 1000),
                ttft_ms=round((call.first_byte - call.started) * 1000) if call.first_byte else None,
                created_at=datetime.now(UTC),
            ),
        )


def _event(provider: str, data: bytes, wants_usage: bool) -> _Event:
    """One upstream stream event, with the upstream's faults named after it."""
    try:
        return openai_chat.stream_event(data, wants_usage)
    except openai_chat.UpstreamStreamError as exc:
        raise UpstreamError(provider, exc.message) from None
    except ValueError:
        raise UpstreamError(provider, "sent a malformed stream event") from None


def _reply_tokens(data: dict[str, Any]) -> int:
    """About four characters per token of the answer's text, when usage is missing."""
    text = 0
    for choice in data.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            text += len(message["content"])
    return max(1, text // 4)

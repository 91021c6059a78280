"""Run one client call whatever its API: plan the routes, hold the worst-case cost, forward
with failover, settle, log. Knows nothing of HTTP servers or of any wire format.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.auth import Principal
from gatewayz.accounts.key_checks import KeyRestricted
from gatewayz.billing import ledger
from gatewayz.billing.entitlements import Entitlements
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.key_spend import KeySpending
from gatewayz.billing.money import format_credits, usage_cost_units
from gatewayz.billing.worst_case import InputBounds, worst_case_units
from gatewayz.errors import GatewayError, InsufficientCredits, InvalidRequest, UpstreamError
from gatewayz.limits.limiter import Admission, Limiter
from gatewayz.protocols import fields
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.usage import Usage
from gatewayz.providers.base import EventStream
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.departure import Departure, OutlivingCalls
from gatewayz.relay.exchange import (
    Answer,
    Exchange,
    Relayed,
    RelayedStream,
    StreamCodec,
    Target,
)
from gatewayz.relay.outcome import Outcome, publish
from gatewayz.relay.own_keys import OwnKeyRouting
from gatewayz.relay.plan import CallPlan
from gatewayz.relay.shortfalls import Debts, report_shortfall
from gatewayz.routing.failover import Failover
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.planner import Planner
from gatewayz.store.batch import BatchWriter
from gatewayz.telemetry.context import note_call, note_model, note_upstream_error
from gatewayz.telemetry.request_log import RequestLogRow
from gatewayz.telemetry.tracing import UpstreamAttempt

log = logging.getLogger(__name__)
CLIENT_CLOSED = 499


@dataclass(slots=True)
class _Call:
    request_id: str
    principal: Principal
    exchange: Exchange
    routes: list[Route]
    reserved_units: int
    admission: Admission | None
    key_held_units: int = 0
    route: Route | None = None
    codec: StreamCodec | None = None  # of a stream the client left while it was opened
    started: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None
    upstream_seconds: float = 0.0


class Relay:
    def __init__(
        self,
        planner: Planner,
        failover: Failover,
        health: HealthBoard,
        adapters: Mapping[str, Adapter],
        writer: BatchWriter,
        holds: CreditHolds,
        default_max_output_tokens: int,
        limiter: Limiter,
        key_spending: KeySpending | None = None,
        entitlements: Entitlements | None = None,
        own_keys: OwnKeyRouting | None = None,
        bounds: InputBounds | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._holds = holds
        self._bounds = bounds or InputBounds()
        self._debts = Debts(engine, writer)
        self._own_keys = own_keys
        self._entitlements = entitlements
        self._key_spending = key_spending
        self._limiter = limiter
        self._planner = planner
        self._failover = failover
        self._health = health
        self._adapters = adapters
        self._writer = writer
        self.outliving = OutlivingCalls()  # calls whose client left (see relay.departure)
        self.default_max_output_tokens = default_max_output_tokens

    def _output_limit(self, plan: CallPlan, route: Route) -> int:
        """The output limit sent upstream on the route, and held: the one the client asked
        for, else the model's max_output_tokens, else the default."""
        asked = plan.demand.output_limit
        return asked or route.model.max_output_tokens or self.default_max_output_tokens

    def _target(self, plan: CallPlan, route: Route) -> Target:
        """The route with its provider's adapter and the output limit to send on it."""
        adapter = self._adapters[route.provider.spec.protocol]
        return Target(route, adapter, self._output_limit(plan, route))

    def _token_worst_case(self, plan: CallPlan, route: Route) -> int:
        """The most the call can cost on the route (see billing.worst_case)."""
        limit = self._output_limit(plan, route)
        return worst_case_units(route.model, plan.demand, limit, self._bounds)

    def departure(self) -> Departure:
        """What the client of an unstreamed call leaving will do to it (call in its task)."""
        return self.outliving.departure()

    async def unary(
        self,
        principal: Principal,
        exchange: Exchange,
        request_id: str,
        departure: Departure | None = None,
    ) -> Relayed:
        """Serve an unstreamed call, failing over between routes. A client that leaves while
        an attempt is in flight (see `departure`) is still billed what the upstream answers."""
        assert exchange.call is not None
        departure = departure or self.departure()
        call = await self._begin(principal, exchange, request_id)
        usage: Usage | None = None
        status, error = 200, None
        answered, reply = False, None
        serve = exchange.call

        async def attempt(route: Route) -> Answer:
            call.route = route
            with UpstreamAttempt(call, route.provider.name, route.model.id), departure.in_flight():
                return await serve(self._target(exchange.plan, route))

        try:
            served = await self._failover.run(call.routes, attempt, departure.stays)
            usage = served.value.usage
            if departure.stays():
                answered, reply = True, served.value.reply
            return Relayed(
                served.value.body, served.route.provider.name, served.attempts, _served(call)
            )
        except GatewayError as exc:
            status, error = exc.status, exc.message
            exc.headers = {**_headers(call), **exc.headers}
            raise
        except asyncio.CancelledError:
            status, error = CLIENT_CLOSED, "client closed the connection"
            raise
        except Exception as exc:
            status, error = 500, f"internal error ({type(exc).__name__})"
            raise
        finally:
            if departure.left:
                status, error = CLIENT_CLOSED, _left(error)
            self._finish(call, usage, status, error, answered, reply)

    async def stream(
        self, principal: Principal, exchange: Exchange, request_id: str
    ) -> RelayedStream:
        """Open a stream, failing over until one upstream has sent its first event.

        Errors before that raise here (and become HTTP errors); after it, a failure ends the
        stream with an error event in the client's format.
        """
        call = await self._begin(principal, exchange, request_id)
        try:
            served = await self._failover.run(call.routes, lambda route: self._open(call, route))
        except GatewayError as exc:
            self._finish(call, None, exc.status, exc.message)
            exc.headers = {**_headers(call), **exc.headers}
            raise
        except asyncio.CancelledError:  # once the upstream answered, it is billed what it saw
            opened = call.codec.tally.usage(exchange.plan.body_size) if call.codec else None
            self._finish(call, opened, CLIENT_CLOSED, "client closed the connection")
            raise
        except Exception as exc:
            self._finish(call, None, 500, f"internal error ({type(exc).__name__})")
            raise
        stream, codec, first = served.value
        events = self._forward(call, served.route, stream, codec, first)
        return RelayedStream(events, served.route.provider.name, served.attempts, _served(call))

    async def _open(self, call: _Call, route: Route) -> tuple[EventStream, StreamCodec, bytes]:
        """Open the upstream stream and convert its first event within the first-byte limit."""
        assert call.exchange.open is not None
        call.route = route
        provider = route.provider
        limit = provider.spec.first_byte_timeout_seconds
        target = self._target(call.exchange.plan, route)
        with UpstreamAttempt(call, provider.name, route.model.id):
            try:
                async with asyncio.timeout(limit):
                    stream, codec = await call.exchange.open(target)
                    try:
                        first = _convert(provider.name, codec, await anext(stream))
                        while not first:  # events the client does not see (e.g. usage only)
                            first = _convert(provider.name, codec, await anext(stream))
                    except StopAsyncIteration:
                        await stream.aclose()
                        raise UpstreamError(
                            provider.name, "ended the stream without any event"
                        ) from None
                    except BaseException as exc:
                        if isinstance(exc, asyncio.CancelledError):  # the upstream had answered
                            call.codec = codec
                        await stream.aclose()
                        raise
            except TimeoutError:  # (a cancellation by the timeout, not by the client)
                call.codec = None
                raise UpstreamError(
                    provider.name,
                    f"sent nothing within {limit:g} s",
                    status=504,
                    code="upstream_timeout",
                ) from None
        call.first_byte = time.perf_counter()
        return stream, codec, first

    async def _forward(
        self,
        call: _Call,
        route: Route,
        stream: EventStream,
        codec: StreamCodec,
        first: bytes,
    ) -> AsyncIterator[bytes]:
        """Forward events as they arrive, then settle, however the stream ends: at the usage the
        upstream reported, or else at the estimate from what it sent (see protocols.usage)."""
        status, error = 200, None
        answered = False
        try:
            if first:
                yield first
            waited = time.perf_counter()
            async for batch in stream:
                call.upstream_seconds += time.perf_counter() - waited
                out = _convert(route.provider.name, codec, batch)
                if out:
                    yield out
                waited = time.perf_counter()
            call.upstream_seconds += time.perf_counter() - waited
            closing = b"".join(codec.close())
            answered = True
            yield closing
        except UpstreamError as exc:
            status, error = exc.status, exc.message
            note_upstream_error(route.provider.name, exc.code)
            self._health.record(route.provider.name, route.model.id, False, 0.0, exc.message)
            yield codec.error(exc)
        except (asyncio.CancelledError, GeneratorExit):
            status, error = CLIENT_CLOSED, "client closed the connection"
            raise
        except Exception as exc:
            log.exception("stream from %s failed", route.provider.name)
            status, error = 500, f"internal error ({type(exc).__name__})"
            yield codec.error(UpstreamError(route.provider.name, "the stream failed", status=500))
        finally:
            await stream.aclose()
            usage = codec.tally.usage(call.exchange.plan.body_size)
            self._finish(call, usage, status, error, answered, codec.reply if answered else None)

    async def plan_routes(self, principal: Principal, plan: CallPlan) -> list[Route]:
        """The routes that may serve the plan's model for the caller, in order (ModelNotFound
        when none): its own provider keys' first, as far as its plan or trial allows."""
        options, kind = plan.options, plan.kind
        if self._own_keys is None:
            routes = self._planner.plan(options, kind)
        else:  # routes to providers the caller has a key for carry that key
            routes = self._own_keys.plan(principal.user_id, options, kind)
        note_model(plan.model)
        routes = self._served(plan, routes)
        if self._entitlements is not None:  # the user's plan or trial may allow fewer models
            routes = await self._entitlements.allowed_routes(principal.user_id, plan.model, routes)
        return routes

    def _served(self, plan: CallPlan, routes: list[Route]) -> list[Route]:
        """The routes whose adapter serves the plan's kind of model (see
        providers.capabilities.log_unserved); a 400 naming the provider when none does."""
        served = [r for r in routes if self._adapters[r.provider.spec.protocol].serves(plan.kind)]
        if routes and not served:
            provider = routes[0].provider
            raise InvalidRequest(
                f"Provider '{provider.name}' ({provider.spec.protocol} protocol) "
                f"does not serve {plan.kind}.",
                param="model",
            )
        return served

    async def first_target(self, principal: Principal, plan: CallPlan) -> Target:
        """The target of the plan's first route for the caller, for a free call the relay
        neither holds credit for nor logs (a token count)."""
        routes = await self.plan_routes(principal, plan)
        return self._target(plan, routes[0])

    async def _begin(self, principal: Principal, exchange: Exchange, request_id: str) -> _Call:
        """Plan the routes, admit the call under the rate limits (or refuse with 429) and hold
        the most any route can cost (or refuse with 402), also on the key if it has a spending
        limit (or refuse with 403)."""
        routes = await self.plan_routes(principal, exchange.plan)
        if exchange.serves is not None:
            routes = _served_routes(exchange, routes)
        admission = await self._limiter.admit(
            principal.user_id, principal.key_id, self._token_budget(exchange, routes)
        )
        worst = exchange.worst_case or (lambda route: self._token_worst_case(exchange.plan, route))
        worst_case = max(self._charge(route, worst(route)) for route in routes)
        try:
            in_debt = await self._debts.blocks(principal.user_id, free=worst_case == 0)
            held = not in_debt and await self._holds.hold(principal.user_id, worst_case)
            if not held:
                message = await self._refusal(principal.user_id, worst_case, in_debt)
        except BaseException:
            self._limiter.finish(admission, 0)
            raise
        if not held:
            self._limiter.finish(admission, 0)
            raise InsufficientCredits(message, headers=admission.headers if admission else None)
        call = _Call(request_id, principal, exchange, routes, worst_case, admission)
        limit = principal.policy.spend_limit_units
        if limit is not None and self._key_spending is not None:
            await self._hold_on_key(call, self._key_spending, limit)
        return call

    async def _refusal(self, user_id: int, worst_case: int, in_debt: bool) -> str:
        """Why a call is refused with 402: a debt, else a worst case above what is free."""
        if in_debt or await self._debts.owed(user_id):
            return (
                "Insufficient credits: the balance is below zero (a call cost more than it "
                "could hold). Add credits to continue."
            )
        return (
            f"Insufficient credits: this call may cost up to {format_credits(worst_case)} "
            "credits. Add credits or lower max_tokens."
        )

    async def _hold_on_key(self, call: _Call, spending: KeySpending, limit: int) -> None:
        """Hold the call's worst case on its key too, or give back its other holds and refuse
        with 403 naming the key's spending limit."""
        user_id, units = call.principal.user_id, call.reserved_units
        held = False
        try:
            held = await spending.hold(call.principal.key_id, units)
        finally:
            if not held:
                self._holds.cancel(user_id, units)
                self._limiter.finish(call.admission, 0)
        if not held:
            refused = KeyRestricted(
                "spend_limit",
                f"Spending limit of {format_credits(limit)} credits reached for this API key: "
                f"this call may cost up to {format_credits(units)} credits more",
            )
            outcome = Outcome(
                call.exchange.plan,
                call.principal,
                call.request_id,
                refused.status,
                refused.message,
                refused_by=refused.restriction,
            )
            publish(call.exchange.subscribers, outcome)
            raise refused
        call.key_held_units = units

    def _charge(self, route: Route, units: int) -> int:
        """What a call on the route pays for a token price of `units`: less on the caller's
        own provider key (see relay.own_keys)."""
        return units if self._own_keys is None else self._own_keys.charge(route, units)

    def _token_budget(self, exchange: Exchange, routes: list[Route]) -> int:
        """Tokens to reserve against tokens-per-minute limits: the prompt at about four bytes
        a token, plus the largest output limit of any route (chat only)."""
        plan = exchange.plan
        prompt = -(-plan.body_size // 4)
        if plan.kind != "chat":
            return prompt
        limit = max(self._output_limit(plan, route) for route in routes)
        return prompt + plan.demand.choices * limit

    def _finish(
        self,
        call: _Call,
        usage: Usage | None,
        status: int,
        error: str | None,
        answered: bool = False,
        reply: dict[str, Any] | None = None,
    ) -> None:
        """Queue the settlement and the request log row (written off the request path), then
        tell the call's subscribers how it ended."""
        route = call.route
        billable = usage if route is not None else None
        cost = 0
        if route is not None and billable is not None:
            cost = self._charge(route, usage_cost_units(route.model, billable))
        if route is not None:
            note_call(route.provider.name, billable, cost, call.upstream_seconds, call.first_byte)
        exchange, plan = call.exchange, call.exchange.plan
        user_id = call.principal.user_id
        used = billable.input_tokens + billable.output_tokens if billable else 0
        self._limiter.finish(call.admission, used)
        shortfall = max(0, cost - call.reserved_units)
        self._writer.add(
            "settlements",
            ledger.Settlement(
                user_id=user_id,
                request_id=call.request_id,
                released_units=self._holds.release(user_id, call.reserved_units, cost),
                cost_units=cost,
                reason=route.public_id if route else plan.model,
                key_id=call.principal.key_id,
                key_held_units=call.key_held_units,
                owner=self._holds.owner,
                shortfall_units=shortfall,
            ),
        )
        if route is not None and shortfall:
            report_shortfall(call.request_id, call.principal, route, call.reserved_units, cost)
            self._debts.note(user_id, call.request_id)
            self._holds.give_back([user_id])  # the debt must stop the next call here at once
        self._writer.add(
            "request_logs",
            RequestLogRow(
                request_id=call.request_id,
                user_id=call.principal.user_id,
                key_id=call.principal.key_id,
                api=plan.api,
                model=plan.model,
                provider=route.provider.name if route else None,
                provider_model=route.model.id if route else None,
                stream=plan.stream,
                status_code=status,
                error=error,
                input_tokens=billable.input_tokens if billable else 0,
                output_tokens=billable.output_tokens if billable else 0,
                usage_estimated=billable.estimated if billable else False,
                cost_units=cost,
                latency_ms=round((time.perf_counter() - call.started) * 1000),
                ttft_ms=round((call.first_byte - call.started) * 1000) if call.first_byte else None,
                created_at=datetime.now(UTC),
                dropped=exchange.dropped.header() if exchange.dropped else None,
                cache_read_tokens=billable.cache_read_tokens if billable else 0,
                cache_write_tokens=billable.cache_write_tokens if billable else 0,
            ),
        )
        if exchange.subscribers:
            outcome = Outcome(
                plan, call.principal, call.request_id, status, error, billable, answered, reply
            )
            publish(exchange.subscribers, outcome)


def _served_routes(exchange: Exchange, routes: list[Route]) -> list[Route]:
    """The routes that can serve the exchange; a 400 naming the model when none can."""
    assert exchange.serves is not None
    served = [route for route in routes if exchange.serves(route)]
    if routes and not served:
        protocols = sorted({route.provider.spec.protocol for route in routes})
        raise InvalidRequest(
            f"Model '{exchange.plan.model}' is served by {' and '.join(protocols)}-format "
            f"providers only, which do not serve {exchange.plan.api}.",
            param="model",
        )
    return served


def _left(error: str | None) -> str:
    """The log's error for a call whose client left (naming the failure, if there was one)."""
    left = "client closed the connection"
    return left if error is None or error == left else f"{left}; then: {error}"


def _headers(call: _Call) -> dict[str, str]:
    """The rate limit headers of the call, if any limit applies to it."""
    return call.admission.headers if call.admission else {}


def _served(call: _Call) -> dict[str, str]:
    """The headers of an answer: the rate limits, and the fields its translation dropped."""
    dropped = call.exchange.dropped.header() if call.exchange.dropped else None
    return _headers(call) if dropped is None else {**_headers(call), fields.HEADER: dropped}


def _convert(provider: str, codec: StreamCodec, batch: Sequence[Event | Chunk]) -> bytes:
    """A batch of upstream events in the client's format, with the upstream's faults named
    after it."""
    try:
        return b"".join(out for event in batch for out in codec.convert(event))
    except UpstreamStreamError as exc:
        raise UpstreamError(provider, exc.message) from None
    except ValueError:
        raise UpstreamError(provider, "sent a malformed stream event") from None

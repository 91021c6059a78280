"""Run one client call whatever its API: plan the routes, hold the worst-case cost, forward
with failover, settle, log. Knows nothing of HTTP servers or of any wire format.

The relay is the façade of the steps: admission and holds (relay.admission), the stream
steps (relay.streaming), settlement and the request log (relay.settlement).
"""

import asyncio
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.auth import Principal
from gatewayz.billing.entitlements import Entitlements
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.key_spend import KeySpending
from gatewayz.billing.worst_case import InputBounds
from gatewayz.errors import GatewayError, InvalidRequest
from gatewayz.limits.limiter import Limiter
from gatewayz.protocols import fields
from gatewayz.protocols.usage import Usage
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.catalog import Route
from gatewayz.relay.admission import CallAdmission, output_limit
from gatewayz.relay.call import CLIENT_CLOSED, Call
from gatewayz.relay.departure import Departure, OutlivingCalls
from gatewayz.relay.exchange import Answer, Exchange, Relayed, RelayedStream, Target
from gatewayz.relay.own_keys import OwnKeyRouting
from gatewayz.relay.plan import CallPlan
from gatewayz.relay.settlement import Settlement
from gatewayz.relay.shortfalls import Debts
from gatewayz.relay.streaming import forward, open_stream
from gatewayz.routing.failover import Failover
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.planner import Planner
from gatewayz.store.batch import BatchWriter
from gatewayz.telemetry.context import note_model
from gatewayz.telemetry.tracing import UpstreamAttempt


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
        debts = Debts(engine, writer)
        self._admission = CallAdmission(
            limiter,
            holds,
            debts,
            default_max_output_tokens,
            bounds or InputBounds(),
            key_spending,
            own_keys,
        )
        self._settlement = Settlement(limiter, holds, debts, writer, own_keys)
        self._own_keys = own_keys
        self._entitlements = entitlements
        self._planner = planner
        self._failover = failover
        self._health = health
        self._adapters = adapters
        self.outliving = OutlivingCalls()  # calls whose client left (see relay.departure)
        self._default_output_limit = default_max_output_tokens

    @property
    def default_max_output_tokens(self) -> int:
        """The output limit sent and held when neither the client nor the model sets one."""
        return self._default_output_limit

    def _target(self, plan: CallPlan, route: Route) -> Target:
        """The route with its provider's adapter and the output limit to send on it (the one
        held, see relay.admission.output_limit)."""
        adapter = self._adapters[route.provider.spec.protocol]
        return Target(route, adapter, output_limit(plan, route, self._default_output_limit))

    def departure(self) -> Departure:
        """What the client of an unstreamed call leaving will do to it (call in its task)."""
        return self.outliving.departure()

    async def unary(
        self, principal: Principal, exchange: Exchange, departure: Departure | None = None
    ) -> Relayed:
        """Serve an unstreamed call, failing over between routes. A client that leaves while
        an attempt is in flight (see `departure`) is still billed what the upstream answers."""
        assert exchange.call is not None
        departure = departure or self.departure()
        routes = await self.plan_routes(principal, exchange.plan)
        call = await self._admission.admit(principal, exchange, routes)
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
            self._settlement.finish(call, usage, status, error, answered, reply)

    async def stream(self, principal: Principal, exchange: Exchange) -> RelayedStream:
        """Open a stream, failing over until one upstream has sent its first event.

        Errors before that raise here (and become HTTP errors); after it, a failure ends the
        stream with an error event in the client's format.
        """
        plan = exchange.plan
        routes = await self.plan_routes(principal, plan)
        call = await self._admission.admit(principal, exchange, routes)
        settlement = self._settlement
        try:
            served = await self._failover.run(
                call.routes, lambda route: open_stream(call, self._target(plan, route))
            )
        except GatewayError as exc:
            settlement.finish(call, None, exc.status, exc.message)
            exc.headers = {**_headers(call), **exc.headers}
            raise
        except asyncio.CancelledError:  # once the upstream answered, it is billed what it saw
            opened = call.codec.tally.usage(plan.body_size) if call.codec else None
            settlement.finish(call, opened, CLIENT_CLOSED, "client closed the connection")
            raise
        except Exception as exc:
            settlement.finish(call, None, 500, f"internal error ({type(exc).__name__})")
            raise
        events = forward(call, served.route, served.value, self._health, settlement)
        return RelayedStream(events, served.route.provider.name, served.attempts, _served(call))

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


def _left(error: str | None) -> str:
    """The log's error for a call whose client left (naming the failure, if there was one)."""
    left = "client closed the connection"
    return left if error is None or error == left else f"{left}; then: {error}"


def _headers(call: Call) -> dict[str, str]:
    """The rate limit headers of the call, if any limit applies to it."""
    return call.admission.headers if call.admission else {}


def _served(call: Call) -> dict[str, str]:
    """The headers of an answer: the rate limits, and the fields its translation dropped."""
    dropped = call.exchange.dropped.header() if call.exchange.dropped else None
    return _headers(call) if dropped is None else {**_headers(call), fields.HEADER: dropped}

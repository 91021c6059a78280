"""Admitting a call before it is sent: the rate limits, then a hold of the most any of its
routes can cost, on the user's credit and on the key's spending limit; a refusal names why
(429, 402, 403)."""

from gatewayz.accounts.auth import Principal
from gatewayz.accounts.key_checks import KeyRestricted
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.key_spend import KeySpending
from gatewayz.billing.money import format_credits
from gatewayz.billing.worst_case import InputBounds, worst_case_units
from gatewayz.errors import InsufficientCredits, InvalidRequest
from gatewayz.limits.limiter import Limiter
from gatewayz.providers.catalog import Route
from gatewayz.relay.call import Call
from gatewayz.relay.exchange import Exchange
from gatewayz.relay.outcome import Outcome, publish
from gatewayz.relay.own_keys import OwnKeyRouting, charge
from gatewayz.relay.plan import CallPlan
from gatewayz.relay.shortfalls import Debts


def output_limit(plan: CallPlan, route: Route, default: int) -> int:
    """The output limit sent upstream on the route, and held: the one the client asked for,
    else the model's max_output_tokens, else the gateway's `default`."""
    return plan.demand.output_limit or route.model.max_output_tokens or default


class CallAdmission:
    """Admits calls under the rate limits and holds their worst-case cost."""

    def __init__(
        self,
        limiter: Limiter,
        holds: CreditHolds,
        debts: Debts,
        default_max_output_tokens: int,
        bounds: InputBounds,
        key_spending: KeySpending | None = None,
        own_keys: OwnKeyRouting | None = None,
    ) -> None:
        self._limiter = limiter
        self._holds = holds
        self._debts = debts
        self._default_output_limit = default_max_output_tokens
        self._bounds = bounds
        self._key_spending = key_spending
        self._own_keys = own_keys

    async def admit(self, principal: Principal, exchange: Exchange, routes: list[Route]) -> Call:
        """Admit the call on its planned routes under the rate limits (or refuse with 429) and
        hold the most any route can cost (or refuse with 402), also on the key if it has a
        spending limit (or refuse with 403)."""
        if exchange.serves is not None:
            routes = _served_routes(exchange, routes)
        admission = await self._limiter.admit(
            principal.user_id, principal.key_id, self._token_budget(exchange.plan, routes)
        )
        worst = exchange.worst_case or (lambda route: self._token_worst_case(exchange.plan, route))
        own_keys = self._own_keys
        worst_case = max(charge(own_keys, route, worst(route)) for route in routes)
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
        call = Call(principal, exchange, routes, worst_case, admission)
        limit = principal.policy.spend_limit_units
        if limit is not None and self._key_spending is not None:
            await self._hold_on_key(call, self._key_spending, limit)
        return call

    def _token_worst_case(self, plan: CallPlan, route: Route) -> int:
        """The most the call can cost on the route (see billing.worst_case)."""
        limit = output_limit(plan, route, self._default_output_limit)
        return worst_case_units(route.model, plan.demand, limit, self._bounds)

    def _token_budget(self, plan: CallPlan, routes: list[Route]) -> int:
        """Tokens to reserve against tokens-per-minute limits: the prompt at about four bytes
        a token, plus the largest output limit of any route (chat only)."""
        prompt = -(-plan.body_size // 4)
        if plan.kind != "chat":
            return prompt
        default = self._default_output_limit
        limit = max(output_limit(plan, route, default) for route in routes)
        return prompt + plan.demand.choices * limit

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

    async def _hold_on_key(self, call: Call, spending: KeySpending, limit: int) -> None:
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
                refused.status,
                refused.message,
                refused_by=refused.restriction,
            )
            publish(call.exchange.subscribers, outcome)
            raise refused
        call.key_held_units = units


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

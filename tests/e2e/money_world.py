"""What a seeded money run plays with: the models and their prices, the gateways' config, the
users and keys, and the record of each call and credit change (see test_money_invariants.py).

Prices, worst cases and costs are computed here from the documented formulas, independently
of gatewayz.billing: a call holds, before it is sent, every byte of its body as an input token
(plus 1,000 when it declares tools) and `n` times its output limit (the client's, else 4096),
at the prices of the dearest route it may take; it costs the usage the upstream reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.openai_upstream import (
    OVERBILL_TOKENS,
    TOOL_ARGUMENTS,
    FakeOpenAIUpstream,
    count_words,
)
from tests.fakes.stripe_api import FakeStripeAPI

UNITS_PER_CREDIT = 10**9
DEFAULT_OUTPUT_LIMIT = 4096  # GATEWAYZ_DEFAULT_MAX_OUTPUT_TOKENS when the operator sets nothing
TOOLS_TOKENS = 1000  # GATEWAYZ_TOOLS_INPUT_TOKENS when the operator sets nothing
REPLY_TOKENS = count_words("This is a fake reply.")
STRIPE_KEY = "sk_test_gatewayz_fake"
WEBHOOK_SECRET = "whsec_gatewayz_test_secret"
CREDITS_PER_DOLLAR = Decimal("0.01")  # so a purchase is worth a few hundred calls, not millions

# Credits per million input and output tokens of each route ("provider/model"). Both providers
# are the same fake upstream; `alt` only fails, at higher prices, so a call that fails over
# holds the dearer route's worst case and is charged at the cheaper one's. The overbilling
# model reports a million output tokens whatever it was sent: priced low, a shortfall is a
# hundredth of a credit rather than a fortune.
PRICES: dict[str, tuple[str, str]] = {
    "fake/fake-model": ("2", "8"),
    "fake/fake-error-500": ("2", "8"),
    "fake/fake-overbill": ("0.01", "0.01"),
    "fake/fake-late-300": ("2", "8"),
    "fake/fake-slow-40": ("2", "8"),
    "fake/fake-slow-300": ("2", "8"),
    "fake/fake-stall-text-3": ("2", "8"),
    "fake/fake-stall-reasoning-4": ("2", "8"),
    "fake/fake-stall-tools-2": ("2", "8"),
    "alt/fake-error-500": ("3", "12"),
}
# Routed models: tried in this order, the first always failing.
ROUTES: dict[str, tuple[str, ...]] = {
    "flaky": ("alt/fake-error-500", "fake/fake-model"),
    "flaky-over": ("alt/fake-error-500", "fake/fake-overbill"),
}
# Events each stalling model sends before it waits for the client to hang up (role chunk
# included), and how many of them carry generated text.
STALLS: dict[str, int] = {
    "fake/fake-stall-text-3": 4,
    "fake/fake-stall-reasoning-4": 5,
    "fake/fake-stall-tools-2": 2,
}


def routes_of(model: str) -> tuple[str, ...]:
    return ROUTES.get(model, (model,))


def cost_units(route: str, input_tokens: int, output_tokens: int) -> int:
    """input tokens x input price + output tokens x output price, rounded half up to a unit."""
    price_in, price_out = (Decimal(p) for p in PRICES[route])
    exact = (input_tokens * price_in + output_tokens * price_out) * UNITS_PER_CREDIT / 10**6
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def gateway_config(upstream: FakeOpenAIUpstream, stripe: FakeStripeAPI) -> dict[str, Any]:
    """The config sections the two gateway processes share, beyond the database and Redis."""
    models: dict[str, list[dict[str, str]]] = defaultdict(list)
    for route, (price_in, price_out) in PRICES.items():
        provider, model = route.split("/", 1)
        models[provider].append(
            {"id": model, "input_price_per_mtok": price_in, "output_price_per_mtok": price_out}
        )
    base = {"protocol": "openai", "base_url": upstream.base_url, "api_key": upstream.api_key}
    return {
        "log_format": "json",
        "log_level": "info",  # every request in the logs a failed run leaves behind
        "providers": [{"name": name, **base, "models": rows} for name, rows in models.items()],
        "routing": {
            "max_attempts": 3,
            "backoff_base_seconds": 0.01,
            "breaker_failures": 1_000_000,
            "models": {model: {"candidates": list(routes)} for model, routes in ROUTES.items()},
        },
        "stripe": {
            "secret_key": STRIPE_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": stripe.base_url,
            "min_amount": "1",
            "max_amount": "10",
            "credits_per_unit": str(CREDITS_PER_DOLLAR),
        },
    }


@dataclass(frozen=True)
class Key:
    user_id: int
    key_id: int
    secret: str
    limit_units: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


@dataclass
class Call:
    """One chat completion the run made, what it may cost, and how it ended for the client.

    `how`: "unary" or "stream" (read to its end), "cut" (a stream the client closes after
    `cut_after` events), "abandon" (the client hangs up `leave_after` seconds after the
    upstream received the request), "leave" (the client hangs up after `leave_after` seconds,
    maybe before the gateway had it). An abandoned or left call runs on a key of its own, so
    that its request-log row is found by key.
    """

    marker: str
    key: Key
    model: str
    body: bytes
    stream: bool
    prompt_words: int
    output_limit: int | None
    choices: int
    tools: bool
    how: str
    cut_after: int = 0
    leave_after: float = 0.0
    status: int | None = None
    request_id: str | None = None
    generated_seen: int = 0  # chunks carrying generated text that the client read
    done: bool = False  # a stream read to its [DONE]
    reached_upstream: bool = False
    gateway: int = 0  # which process it was sent to
    started: float = 0.0  # when it was sent, and when the client had its end (monotonic)
    ended: float = 0.0

    @property
    def worst(self) -> int:
        """The documented worst case: the hold the call must have been given."""
        input_tokens = len(self.body) + (TOOLS_TOKENS if self.tools else 0)
        output_tokens = self.choices * (self.output_limit or DEFAULT_OUTPUT_LIMIT)
        return max(
            cost_units(route, input_tokens, output_tokens) for route in routes_of(self.model)
        )

    @property
    def served_route(self) -> str:
        return routes_of(self.model)[-1]

    @property
    def full_cost(self) -> int:
        """What the call costs once the upstream answered it whole (0 if no route serves)."""
        route = self.served_route
        if route.endswith("fake-error-500"):
            return 0
        if route.endswith("fake-overbill"):
            output = OVERBILL_TOKENS
        else:
            output = count_words(TOOL_ARGUMENTS) if self.tools else REPLY_TOKENS
        return cost_units(route, self.prompt_words, output)

    @property
    def least_cost(self) -> int:
        """The least a stream cut after the client read `generated_seen` pieces of generated
        text can be charged: a token for each, and the input at least as the upstream counts
        it (the estimate, bytes / 4, is more)."""
        return cost_units(self.served_route, self.prompt_words, self.generated_seen)


@dataclass
class Adjustment:
    """A credit change the run asked for; `applied` once it is known to be in the ledger."""

    user_id: int
    units: int
    idempotency_key: str  # as the ledger stores it
    via: str
    applied: bool = False
    started: float = 0.0
    ended: float = 0.0


@dataclass
class Purchase:
    user_id: int
    session_id: str
    amount_cents: int
    credits_units: int
    refunded_cents: int = 0  # the highest refunded total Stripe reported
    started: float = 0.0
    ended: float = 0.0


@dataclass
class Record:
    """Everything the run did, for the books to be checked against."""

    seed: int
    grants: dict[int, int] = field(default_factory=dict)  # user id -> initial credits
    keys: list[Key] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)

    def outcomes(self) -> str:
        """How the calls ended, counted by kind and status, and the credit changes applied."""
        counted = Counter(f"{call.how} {call.status}" for call in self.calls)
        applied = sum(1 for change in self.adjustments if change.applied)
        return (
            ", ".join(f"{what}: {n}" for what, n in sorted(counted.items()))
            + f"; {applied} of {len(self.adjustments)} credit changes applied,"
            + f" {len(self.purchases)} purchases"
        )

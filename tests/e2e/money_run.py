"""A seeded run of interleaved, partly concurrent operations against two gateway processes:
calls whole, streamed, cut, abandoned and failed over, calls to an overbilling model, credit
grants and removals through either process's admin API and from the ledger directly, Stripe
purchases and refunds through the signed webhook, in groups run at once across users and keys.

Every choice is drawn from `random.Random(seed)` before its group runs, so a seed always
plays the same operations in the same groups; how each ends (served, refused with 402 or 403,
cut after more or fewer events) depends on timing, and the books must balance for every
outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing import ledger
from tests.e2e.money_world import (
    CREDITS_PER_DOLLAR,
    STALLS,
    UNITS_PER_CREDIT,
    WEBHOOK_SECRET,
    Adjustment,
    Call,
    Key,
    Purchase,
    Record,
)
from tests.e2e.support import TOOLS
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.stripe_api import FakeStripeAPI, event, signature_header

CHAT = "/v1/chat/completions"
GROUP_SIZES = (1, 1, 2, 3, 4, 6, 8)
OPERATIONS = {  # name: weight
    "unary": 28,
    "stream": 12,
    "cut": 14,
    "abandon": 7,
    "leave": 5,
    "adjust": 10,
    "debit": 3,
    "purchase": 3,
    "refund": 4,
}
UNARY_MODELS = (
    "fake/fake-model",
    "flaky",
    "fake/fake-overbill",
    "flaky-over",
    "fake/fake-error-500",
)
UNARY_WEIGHTS = (10, 5, 2, 2, 1)
STREAM_MODELS = (
    "fake/fake-model",
    "flaky",
    "fake/fake-overbill",
    "flaky-over",
    "fake/fake-slow-40",
)
STREAM_WEIGHTS = (8, 4, 2, 2, 3)
OUTPUT_LIMITS = (None, 8, 32, 32, 256, 1000)
SECONDS = 30.0  # the most any one wait may take: generous, never part of a pass


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


class Run:
    """Plays `steps` groups of operations; see the module docstring."""

    def __init__(
        self,
        record: Record,
        gateways: list[httpx.AsyncClient],
        engine: AsyncEngine,
        upstream: FakeOpenAIUpstream,
        stripe: FakeStripeAPI,
        admin: str,
        callers: list[Key],
    ) -> None:
        self.record = record
        self.callers = callers  # the keys ordinary calls are made with
        self.rng = random.Random(record.seed)
        self._gateways = gateways
        self._engine = engine
        self._upstream = upstream
        self._stripe = stripe
        self._admin = {"Authorization": f"Bearer {admin}"}
        self._count = itertools.count(1)
        self._paid: list[Purchase] = []  # purchases completed in earlier groups
        self._markers: set[str] = set()
        self._scanned = 0

    async def play(self, steps: int) -> None:
        for step in range(steps):
            size = self.rng.choice(GROUP_SIZES)
            drawn = [self._draw() for _ in range(size)]
            self.record.trace.append(f"group {step}: " + ", ".join(name for name, _ in drawn))
            await asyncio.gather(*(operation for _, operation in drawn))
            self._paid = list(self.record.purchases)

    def saw(self, marker: str) -> bool:
        """Whether the upstream has received the call carrying `marker`."""
        for sent in self._upstream.requests[self._scanned :]:
            messages = sent.json.get("messages") if isinstance(sent.json, dict) else None
            if messages:
                self._markers.add(str(messages[0].get("content", "")).split(" ")[0])
        self._scanned = len(self._upstream.requests)
        return marker in self._markers

    # -- drawing ---------------------------------------------------------------------------

    def _draw(self) -> tuple[str, Coroutine[Any, Any, None]]:
        rng = self.rng
        name = rng.choices(list(OPERATIONS), list(OPERATIONS.values()))[0]
        if name == "refund" and not self._paid:
            name = "purchase"
        gateway = rng.randrange(len(self._gateways))
        if name in ("unary", "stream", "cut", "abandon", "leave"):
            call = self._call(name)
            self.record.calls.append(call)
            return f"{name} {call.model} on {gateway}", self._run_call(call, gateway)
        user = rng.choice(sorted(self.record.grants))
        if name == "adjust":
            units = rng.choice((1, 5, 20, 50)) * 10**6 * rng.choice((1, -1))
            return f"adjust {units} on {gateway}", self._adjust(user, units, gateway)
        if name == "debit":
            units = -rng.choice((1, 5, 20)) * 10**6
            return f"ledger debit {units}", self._ledger_debit(user, units)
        if name == "purchase":
            dollars = rng.choice((1, 2, 3))
            webhook = rng.randrange(len(self._gateways))
            return f"purchase ${dollars} on {gateway}/{webhook}", self._buy(
                user, dollars, gateway, webhook
            )
        purchase = rng.choice(self._paid)
        step = rng.choice((25, 50, purchase.amount_cents))
        purchase.refunded_cents = total = min(purchase.amount_cents, purchase.refunded_cents + step)
        return f"refund {total} of {purchase.session_id} on {gateway}", self._refund(
            purchase, total, gateway
        )

    def _call(self, how: str) -> Call:
        rng = self.rng
        marker = f"s{self.record.seed}c{next(self._count)}"
        tools = False
        if how == "unary":
            model = rng.choices(UNARY_MODELS, UNARY_WEIGHTS)[0]
            tools = rng.random() < 0.2
        elif how == "stream":
            model = rng.choices(STREAM_MODELS, STREAM_WEIGHTS)[0]
        elif how == "cut":
            model = rng.choice(("fake/fake-slow-40", "flaky", *STALLS))
            tools = model == "fake/fake-stall-tools-2" and rng.random() < 0.5
        elif how == "abandon":
            model = rng.choice(("fake/fake-late-300", "fake/fake-slow-300"))
        else:
            model = rng.choice(("fake/fake-model", "fake/fake-late-300"))
        stream = how in ("stream", "cut") or model == "fake/fake-slow-300"
        pad = rng.randrange(16)
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": " ".join([marker, *["word"] * pad])}],
        }
        limit = rng.choice(OUTPUT_LIMITS)
        if limit is not None:
            body[rng.choice(("max_tokens", "max_completion_tokens"))] = limit
        choices = rng.choice((1, 1, 1, 2, 3))
        if choices > 1:
            body["n"] = choices
        if tools:
            body["tools"] = TOOLS
        if stream:
            body["stream"] = True
            if rng.random() < 0.5:
                body["stream_options"] = {"include_usage": True}
        cut_after = 0
        if how == "cut":
            cut_after = rng.randint(1, STALLS.get(model, 9))
        return Call(
            marker=marker,
            key=rng.choice(self.callers),
            model=model,
            body=orjson.dumps(body),
            stream=stream,
            prompt_words=1 + pad,
            output_limit=limit,
            choices=choices,
            tools=tools,
            how=how,
            cut_after=cut_after,
            leave_after=rng.uniform(0, 0.2 if how == "abandon" else 0.03),
        )

    # -- calls -------------------------------------------------------------------------------

    async def _run_call(self, call: Call, gateway: int) -> None:
        if call.how in ("abandon", "leave"):
            call.key = await self._own_key(call.key, gateway)
        http = self._gateways[gateway]
        call.gateway, call.started = gateway, time.monotonic()
        try:
            await self._leave_or_send(http, call)
        finally:
            call.ended = time.monotonic()

    async def _leave_or_send(self, http: httpx.AsyncClient, call: Call) -> None:
        if call.how not in ("abandon", "leave"):
            await self._send(http, call)
            return
        sending = asyncio.create_task(self._send(http, call))
        if call.how == "abandon":
            await until(lambda: sending.done() or self.saw(call.marker), "the upstream")
        await asyncio.sleep(call.leave_after)
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        if not sending.cancelled():
            sending.result()  # it ended before the client left: an ordinary call

    async def _send(self, http: httpx.AsyncClient, call: Call) -> None:
        headers = {**call.key.headers, "content-type": "application/json"}
        if not call.stream:
            response = await http.post(CHAT, content=call.body, headers=headers)
            call.status = response.status_code
            call.request_id = response.headers.get("x-request-id")
            return
        async with http.stream("POST", CHAT, content=call.body, headers=headers) as response:
            call.status = response.status_code
            call.request_id = response.headers.get("x-request-id")
            if response.status_code != 200:
                await response.aread()
                return
            events = 0
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line.removeprefix("data:").strip()
                if data == "[DONE]":
                    call.done = True
                    break
                call.generated_seen += _generated(orjson.loads(data))
                events += 1
                if call.how == "cut" and events >= call.cut_after:
                    break  # leaving the block closes the connection mid-stream

    async def _own_key(self, like: Key, gateway: int) -> Key:
        """A new key of the same user, with the same spending limit (made by the user's
        first key, which has none)."""
        first = next(key for key in self.record.keys if key.user_id == like.user_id)
        body: dict[str, Any] = {"name": f"own-{uuid.uuid4().hex[:8]}"}
        if like.limit_units is not None:
            body["spend_limit"] = str(Decimal(like.limit_units) / UNITS_PER_CREDIT)
        made = await self._gateways[gateway].post(
            "/user/api-keys", json=body, headers=first.headers
        )
        assert made.status_code == 201, made.text
        key = Key(like.user_id, made.json()["id"], made.json()["key"], like.limit_units)
        self.record.keys.append(key)
        return key

    # -- credits -----------------------------------------------------------------------------

    async def _adjust(self, user_id: int, units: int, gateway: int) -> None:
        given = uuid.uuid4().hex
        change = Adjustment(user_id, units, f"admin:{given}", f"api {gateway}")
        self.record.adjustments.append(change)
        change.started = time.monotonic()
        amount = f"{Decimal(units) / UNITS_PER_CREDIT:f}"
        answer = await self._gateways[gateway].post(
            f"/admin/users/{user_id}/credits",
            json={"amount": amount, "reason": "money run", "idempotency_key": given},
            headers=self._admin,
        )
        change.ended = time.monotonic()
        assert answer.status_code in (200, 409), answer.text
        change.applied = answer.status_code == 200

    async def _ledger_debit(self, user_id: int, units: int) -> None:
        """A removal as `gatewayz credits remove` makes it, from a process serving nothing."""
        change = Adjustment(user_id, units, f"cli:{uuid.uuid4().hex}", "ledger")
        self.record.adjustments.append(change)
        change.started = time.monotonic()
        try:
            await ledger.change_credits(
                self._engine,
                user_id,
                units,
                kind="admin_adjustment",
                reason="money run",
                idempotency_key=change.idempotency_key,
            )
        except ledger.InsufficientBalance:
            return
        finally:
            change.ended = time.monotonic()
        change.applied = True

    async def _buy(self, user_id: int, dollars: int, gateway: int, webhook: int) -> None:
        first = next(key for key in self.record.keys if key.user_id == user_id)
        began = time.monotonic()
        started = await self._gateways[gateway].post(
            "/user/checkout", json={"amount": str(dollars)}, headers=first.headers
        )
        assert started.status_code == 200, started.text
        session_id = started.json()["id"]
        credits = int(dollars * CREDITS_PER_DOLLAR * UNITS_PER_CREDIT)
        purchase = Purchase(user_id, session_id, dollars * 100, credits, started=began)
        paid = await self._deliver(
            webhook, "checkout.session.completed", self._stripe.completed(session_id)
        )
        purchase.ended = time.monotonic()
        assert paid.startswith("payment ") and paid.endswith(" paid"), paid
        self.record.purchases.append(purchase)

    async def _refund(self, purchase: Purchase, total_cents: int, gateway: int) -> None:
        charge = self._stripe.refunded_charge(purchase.session_id, total_cents)
        await self._deliver(gateway, "charge.refunded", charge)

    async def _deliver(self, gateway: int, kind: str, data: dict[str, Any]) -> str:
        """Send a Stripe event, signed as Stripe signs it; the webhook's result."""
        payload = orjson.dumps(event(kind, data))
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": signature_header(payload, WEBHOOK_SECRET),
        }
        answer = await self._gateways[gateway].post(
            "/stripe/webhook", content=payload, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["result"])


def _generated(chunk: dict[str, Any]) -> int:
    """1 if the chunk carries generated text (content, reasoning, a tool call), else 0."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
            return 1
    return 0

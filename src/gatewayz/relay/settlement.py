"""Settling a call, however it ended: its charge and the release of its holds, its request log
row (both queued, written off the request path), and its outcome told to its subscribers."""

import time
from datetime import UTC, datetime
from typing import Any

from gatewayz.billing import ledger
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.money import usage_cost_units
from gatewayz.limits.limiter import Limiter
from gatewayz.protocols.usage import Usage
from gatewayz.relay.call import Call
from gatewayz.relay.outcome import Outcome, publish
from gatewayz.relay.own_keys import OwnKeyRouting, charge
from gatewayz.relay.shortfalls import Debts, report_shortfall
from gatewayz.store.batch import BatchWriter
from gatewayz.telemetry.context import note_call
from gatewayz.telemetry.request_log import RequestLogRow


class Settlement:
    """Settles the relay's calls."""

    def __init__(
        self,
        limiter: Limiter,
        holds: CreditHolds,
        debts: Debts,
        writer: BatchWriter,
        own_keys: OwnKeyRouting | None = None,
    ) -> None:
        self._limiter = limiter
        self._holds = holds
        self._debts = debts
        self._writer = writer
        self._own_keys = own_keys

    def finish(
        self,
        call: Call,
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
            cost = charge(self._own_keys, route, usage_cost_units(route.model, billable))
        if route is not None:
            note_call(route.provider.name, billable, cost, call.upstream_seconds, call.first_byte)
        exchange, plan = call.exchange, call.exchange.plan
        request_id, user_id = plan.request_id, call.principal.user_id
        used = billable.input_tokens + billable.output_tokens if billable else 0
        self._limiter.finish(call.admission, used)
        shortfall = max(0, cost - call.reserved_units)
        self._writer.add(
            "settlements",
            ledger.Settlement(
                user_id=user_id,
                request_id=request_id,
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
            report_shortfall(request_id, call.principal, route, call.reserved_units, cost)
            self._debts.note(user_id, request_id)
            self._holds.give_back([user_id])  # the debt must stop the next call here at once
        self._writer.add(
            "request_logs",
            RequestLogRow(
                request_id=request_id,
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
            outcome = Outcome(plan, call.principal, status, error, billable, answered, reply)
            publish(exchange.subscribers, outcome)

"""Turns a relayed exchange into an HTTP response: JSON, or SSE for streams."""

from functools import partial

from fastapi import Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal
from gatewayz.accounts.key_checks import audit_denial
from gatewayz.api.deps import app_services
from gatewayz.api.disconnect import CLIENT_CLOSED, unless_disconnected
from gatewayz.api.sse import EventStreamResponse
from gatewayz.errors import GatewayError
from gatewayz.relay.exchange import Exchange
from gatewayz.relay.outcome import Outcome


def _served_by(provider: str, attempts: int, headers: dict[str, str]) -> dict[str, str]:
    return {"x-gatewayz-provider": provider, "x-gatewayz-attempts": str(attempts), **headers}


def _audit_refusal(request: Request, outcome: Outcome) -> None:
    """Audit a call refused by a key restriction (its spending limit)."""
    if outcome.refused_by is not None:
        principal = outcome.principal
        audit_denial(request, principal.user_id, principal.key_id, outcome.refused_by)


async def respond(request: Request, principal: Principal, exchange: Exchange) -> Response:
    """Run the exchange and answer with its result; a call refused by a key restriction (its
    spending limit) is audited. A client that leaves cancels a stream at once; an unstreamed
    call already sent upstream finishes, to be billed (see relay.departure)."""
    if principal.policy.spend_limit_units is not None:  # the one refusal that comes this late
        exchange.subscribe(partial(_audit_refusal, request))
    return await _respond(request, principal, exchange)


async def _respond(request: Request, principal: Principal, exchange: Exchange) -> Response:
    relay = app_services(request).relay
    if exchange.plan.stream:
        opened = await unless_disconnected(request.receive, relay.stream(principal, exchange))
        if isinstance(opened, Response):
            return opened
        headers = _served_by(opened.provider, opened.attempts, opened.headers)
        return EventStreamResponse(opened.events, headers)
    return await _answer(request, principal, exchange)


async def _answer(request: Request, principal: Principal, exchange: Exchange) -> Response:
    """An unstreamed call; once its client has left, whatever it ends with is answered 499
    (to nobody: so the access log and metrics count it as cancelled)."""
    relay = app_services(request).relay
    departure = relay.departure()
    work = relay.unary(principal, exchange, departure)
    try:
        answer = await unless_disconnected(request.receive, work, departure.leave)
    except GatewayError:
        if departure.left:
            return Response(status_code=CLIENT_CLOSED)
        raise
    if isinstance(answer, Response):
        return answer
    if departure.left:
        return Response(status_code=CLIENT_CLOSED)
    return Response(
        answer.body,
        media_type="application/json",
        headers=_served_by(answer.provider, answer.attempts, answer.headers),
    )

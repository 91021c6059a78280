"""OpenAI Chat Completions through the relay: every provider adapter speaks it."""

from dataclasses import replace
from functools import partial
from typing import Any

from gatewayz.billing.worst_case import Demand
from gatewayz.errors import UpstreamError
from gatewayz.history.answers import StreamedAnswer, reply_message
from gatewayz.history.turns import Turn
from gatewayz.protocols import openai_chat
from gatewayz.protocols.chat_passthrough import check_chat_request
from gatewayz.protocols.input_parts import declares_tools, media_parts
from gatewayz.protocols.usage import Usage, UsageTally
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec, Target
from gatewayz.relay.outcome import Outcome
from gatewayz.relay.plan import call_plan
from gatewayz.relay.translated import translation_notes
from gatewayz.routing.options import without_routing_fields

_DONE = b"data: [DONE]\n\n"
CHAT = "chat completions"


def upstream_chat_body(body: dict[str, Any], route: Route, output_limit: int) -> dict[str, Any]:
    """The chat request as the route's provider receives it, limited to `output_limit` (the
    limit held for it, see relay.exchange.Target); a field the provider would bill beyond the
    usage is refused (see protocols.chat_passthrough)."""
    spec = route.provider.spec
    if spec.protocol == "openai":  # sent in its own format; the others translate it
        check_chat_request(body, route.provider.name, spec.passthrough_fields)
    return openai_chat.upstream_request(
        without_routing_fields(body), route.model.id, spec.quirks, output_limit
    )


def request_demand(
    body: dict[str, Any], body_size: int, output_limit: int | None, choices: int = 1
) -> Demand:
    """What the credit hold counts of a request in any client format."""
    return Demand(body_size, output_limit, choices, media_parts(body), declares_tools(body))


def chat_usage(data: dict[str, Any], body_size: int) -> Usage:
    """The upstream's usage, or the estimate from the answer's generated text (see
    gatewayz.protocols.usage)."""
    tally = UsageTally()
    openai_chat.tally_reply(data, tally)
    return tally.usage(body_size)


class ChatCodec:
    """OpenAI chunks to an OpenAI client: forwarded, usage chunk stripped if not asked for.

    With `keeps_reply` (in a chat session), the answer is accumulated too, as `reply`.
    """

    def __init__(self, wants_usage: bool, keeps_reply: bool = False) -> None:
        self._wants_usage = wants_usage
        self._answer = StreamedAnswer() if keeps_reply else None
        self.tally = UsageTally()

    @property
    def reply(self) -> dict[str, Any] | None:
        return None if self._answer is None else self._answer.message()

    def convert(self, event: Event | Chunk) -> list[bytes]:
        data = event if isinstance(event, dict) else event[1]
        out, chunk = openai_chat.read_stream_event(data, self._wants_usage, self.tally)
        if self._answer is not None:
            self._answer.add(chunk)
        return [] if out is None else [b"data: " + out + b"\n\n"]

    def close(self) -> list[bytes]:
        return [_DONE]

    def error(self, error: UpstreamError) -> bytes:
        return openai_chat.error_event(
            {
                "error": {
                    "message": error.message,
                    "type": error.type,
                    "param": None,
                    "code": error.code,
                }
            }
        )


def _store_turn(turn: Turn, outcome: Outcome) -> None:
    """Store a chat session's turn once its whole answer went to the client."""
    if outcome.answered:
        turn.finish(outcome.reply, outcome.plan.request_id)


def chat_exchange(
    body: dict[str, Any], body_size: int, request_id: str, turn: Turn | None = None
) -> Exchange:
    """The chat completion request `request_id`, served by any provider; in a chat session,
    `turn` holds the body with the session's history and stores the answer."""
    if turn is not None:
        body, body_size = turn.body, turn.body_size
    wants_usage = openai_chat.wants_stream_usage(body)
    demand = request_demand(
        body, body_size, openai_chat.requested_output_limit(body), body.get("n") or 1
    )
    if turn is not None:  # the history's images, files and audio count as the request's do
        demand = replace(demand, media_parts=demand.media_parts + turn.window.media_parts)

    async def upstream(target: Target) -> dict[str, Any]:
        """The request for the target; a session's history is read now, after the hold."""
        request = body if turn is None else await turn.request()
        return upstream_chat_body(request, target.route, target.output_limit)

    async def call(target: Target) -> Answer:
        provider = target.route.provider
        dropped = translation_notes(exchange, target.route)
        adapter = target.needs(target.adapter.chat, CHAT)
        reply = await adapter.chat(provider, await upstream(target), dropped)
        kept = None if turn is None else reply_message(reply.data)
        return Answer(reply.body, chat_usage(reply.data, body_size), kept)

    async def open_stream(target: Target) -> tuple[EventStream, StreamCodec]:
        dropped = translation_notes(exchange, target.route)
        request = await upstream(target)
        adapter = target.needs(target.adapter.chat, CHAT)
        stream = await adapter.chat_stream(target.route.provider, request, dropped)
        return stream, ChatCodec(wants_usage, keeps_reply=turn is not None)

    plan = call_plan("chat.completions", body, demand, request_id, stream=bool(body.get("stream")))
    exchange = Exchange(plan, call=call, open=open_stream)
    if turn is not None:
        exchange.subscribe(partial(_store_turn, turn))
    return exchange

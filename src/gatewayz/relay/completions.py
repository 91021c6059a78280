"""OpenAI legacy text completions (`POST /v1/completions`) through the relay: passed through to
OpenAI-format providers only (a text completion has no faithful translation onto chat or the
other formats: `suffix`, `echo`, `logprobs` and `best_of` have no equivalent there)."""

from typing import Any

from gatewayz.errors import UpstreamError
from gatewayz.protocols import openai_chat, openai_completions
from gatewayz.protocols.usage import Usage, UsageTally
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.chat import request_demand
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec, Target
from gatewayz.relay.plan import call_plan
from gatewayz.relay.translated import native_event
from gatewayz.routing.options import without_routing_fields

_DONE = b"data: [DONE]\n\n"
ONLY = "openai"  # the protocol of the providers that serve text completions


def completion_usage(data: dict[str, Any], body_size: int) -> Usage:
    """The upstream's usage, or the estimate from the completions' text."""
    seen = UsageTally()
    openai_completions.tally(data, seen)
    return seen.usage(body_size)


class CompletionsCodec:
    """`text_completion` chunks to the client as they come, the usage chunk stripped if the
    client did not ask for it."""

    reply: dict[str, Any] | None = None  # keeps no chat reply

    def __init__(self, wants_usage: bool) -> None:
        self._wants_usage = wants_usage
        self.tally = UsageTally()

    def convert(self, event: Event | Chunk) -> list[bytes]:
        _, data = native_event(event)
        out = openai_completions.read_stream_event(data, self._wants_usage, self.tally)
        return [] if out is None else [b"data: " + out + b"\n\n"]

    def close(self) -> list[bytes]:
        return [_DONE]

    def error(self, error: UpstreamError) -> bytes:
        body = {"message": error.message, "type": error.type, "param": None, "code": error.code}
        return openai_chat.error_event({"error": body})


def completions_exchange(body: dict[str, Any], body_size: int, request_id: str) -> Exchange:
    """A text completion, held as its bytes plus every completion generated (`n` or `best_of`
    per prompt) times `max_tokens` (16 when absent, sent so)."""
    limit = body.get("max_tokens") or openai_completions.DEFAULT_MAX_TOKENS
    generated = openai_completions.completions_generated(body)
    demand = request_demand(body, body_size, limit, generated)

    def upstream(route: Route) -> dict[str, Any]:
        return openai_completions.upstream_request(
            without_routing_fields(body), route.model.id, route.provider.spec.quirks, limit
        )

    async def call(target: Target) -> Answer:
        route = target.route
        adapter = target.needs(target.adapter.completions, "text completions")
        reply = await adapter.completions(route.provider, upstream(route))
        return Answer(reply.body, completion_usage(reply.data, body_size))

    async def open_stream(target: Target) -> tuple[EventStream, StreamCodec]:
        route = target.route
        adapter = target.needs(target.adapter.completions, "text completions")
        stream = await adapter.completions_stream(route.provider, upstream(route))
        return stream, CompletionsCodec(openai_chat.wants_stream_usage(body))

    return Exchange(
        call_plan("completions", body, demand, request_id, stream=bool(body.get("stream"))),
        call=call,
        open=open_stream,
        serves=lambda route: route.provider.spec.protocol == ONLY,
    )

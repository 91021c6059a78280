"""The OpenAI Responses API (`POST /v1/responses`) through the relay: passed through to
providers that serve it natively, translated onto chat completions for the rest."""

import secrets
import time
from typing import Any

import orjson

from gatewayz.errors import UpstreamError
from gatewayz.protocols import openai_chat, responses
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.responses.passthrough import native_request
from gatewayz.protocols.usage import Usage, UsageTally, from_responses
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.chat import CHAT, chat_usage, request_demand, upstream_chat_body
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec, Target
from gatewayz.relay.plan import call_plan
from gatewayz.relay.translated import PassthroughCodec, chat_chunk, sse, translation_notes
from gatewayz.routing.options import without_routing_fields

_FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
# Chat upstreams that take OpenAI's own hints (prompt caching, service tier, verbosity).
_OPENAI_FORMAT = frozenset({"openai", "demo"})
RESPONSES = "the Responses API"


def _events(events: list[dict[str, Any]]) -> list[bytes]:
    return [sse(event["type"], event) for event in events]


def _error_event(message: str) -> bytes:
    return sse(
        "error", {"type": "error", "code": "upstream_error", "message": message, "param": None}
    )


# Deltas of generated text: answer text, refusals, reasoning (raw and summaries), tool input.
_TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
    }
)
_CALLS = frozenset({"function_call", "custom_tool_call"})


def _inspect(name: str, data: dict[str, Any], tally: UsageTally) -> None:
    """Note the usage and generated text of one native Responses event."""
    if name == "error":
        raise UpstreamStreamError(str(data.get("message") or "stream error"))
    if name in _TEXT_DELTAS:
        tally.saw(data.get("delta"))
    elif name == "response.output_item.added":
        item = data.get("item")
        if isinstance(item, dict) and str(item.get("type")) in _CALLS:
            tally.saw(item.get("name"))
    elif name in _FINAL:
        usage = from_responses((data.get("response") or {}).get("usage"))
        if usage is not None:
            tally.report(usage)


def response_usage(response: dict[str, Any], body_size: int) -> Usage:
    """A native Response's usage, or the estimate from its output items' text: messages,
    refusals, reasoning and its summaries, tool calls (see protocols.usage)."""
    tally = UsageTally()
    items = response.get("output")
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        for field in ("name", "arguments", "input"):  # of tool calls
            tally.saw(item.get(field))
        for part in [*(item.get("content") or ()), *(item.get("summary") or ())]:
            if isinstance(part, dict):
                tally.saw(part.get("text"))
                tally.saw(part.get("refusal"))
    usage = from_responses(response.get("usage"))
    if usage is not None:
        tally.report(usage)
    return tally.usage(body_size)


class _FromChat:
    """OpenAI chat chunks to Responses stream events."""

    reply: dict[str, Any] | None = None  # keeps no chat reply

    def __init__(self, translator: responses.ChatStreamToResponses) -> None:
        self._translator = translator
        self._started = False
        self.tally = UsageTally()

    def convert(self, event: Event | Chunk) -> list[bytes]:
        chunk = chat_chunk(event)
        openai_chat.tally_chunk(chunk, self.tally)
        out = [] if self._started else self._translator.start()
        self._started = True
        return _events(out + self._translator.feed(chunk))

    def close(self) -> list[bytes]:
        return _events(self._translator.finish())

    def error(self, error: UpstreamError) -> bytes:
        return b"".join(_events(self._translator.fail(error.message)))


def responses_exchange(body: dict[str, Any], body_size: int, request_id: str) -> Exchange:
    native_body = without_routing_fields(body)
    demand = request_demand(body, body_size, body.get("max_output_tokens"))
    response_id = "resp_" + secrets.token_hex(16)
    created = int(time.time())

    def is_native(route: Route) -> bool:
        spec = route.provider.spec
        return spec.protocol == "openai" and "responses_api" in spec.quirks

    def chat_body(target: Target, dropped: Dropped) -> dict[str, Any]:
        openai_format = target.route.provider.spec.protocol in _OPENAI_FORMAT
        chat = responses.responses_to_chat_request(native_body, dropped, openai_format)
        return upstream_chat_body(chat, target.route, target.output_limit)

    def native(target: Target) -> dict[str, Any]:
        """The body passed through under the row's field rules (the hosted tools it may not
        run left out and named), with the limit held (also when the client sent none)."""
        route = target.route
        provider = route.provider
        checked = native_request(
            native_body,
            route.model.id,
            provider.name,
            provider.spec.passthrough_fields,
            translation_notes(exchange, route),
        )
        return {**checked, "max_output_tokens": target.output_limit}

    async def call(target: Target) -> Answer:
        route = target.route
        if is_native(route):
            passthrough = target.needs(target.adapter.responses, RESPONSES)
            reply = await passthrough.responses(route.provider, native(target))
            return Answer(reply.body, response_usage(reply.data, body_size))
        dropped = translation_notes(exchange, route)
        adapter = target.needs(target.adapter.chat, CHAT)
        reply = await adapter.chat(route.provider, chat_body(target, dropped), dropped)
        answer = responses.chat_to_response(reply.data, body, response_id, created)
        return Answer(orjson.dumps(answer), chat_usage(reply.data, body_size))

    async def open_stream(target: Target) -> tuple[EventStream, StreamCodec]:
        route = target.route
        if is_native(route):
            passthrough = target.needs(target.adapter.responses, RESPONSES)
            source = await passthrough.responses_stream(route.provider, native(target))
            return source, PassthroughCodec(_inspect, _error_event)
        dropped = translation_notes(exchange, route)
        adapter = target.needs(target.adapter.chat, CHAT)
        source = await adapter.chat_stream(route.provider, chat_body(target, dropped), dropped)
        return source, _FromChat(responses.ChatStreamToResponses(body, response_id, created))

    plan = call_plan("responses", body, demand, request_id, stream=bool(body.get("stream")))
    exchange = Exchange(plan, call=call, open=open_stream)
    return exchange

"""Anthropic Messages (`POST /v1/messages`) through the relay: passed through to Anthropic
upstreams, translated onto chat completions for every other provider."""

import secrets
from typing import Any

import orjson

from gatewayz.errors import UpstreamError
from gatewayz.protocols import anthropic, openai_chat
from gatewayz.protocols.anthropic.passthrough import native_request
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.usage import Usage, UsageTally, from_anthropic
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Event
from gatewayz.relay.chat import chat_usage, request_demand, upstream_chat_body
from gatewayz.relay.core import Relay
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec
from gatewayz.relay.translated import PassthroughCodec, plan_body, sse, translation_notes
from gatewayz.routing.options import without_routing_fields


def _error_event(message: str) -> bytes:
    return sse("error", anthropic.error_body(502, message, None))


_BLOCK_TEXT = {
    "text": "text",
    "thinking": "thinking",
    "tool_use": "name",
    "server_tool_use": "name",
}
_DELTA_TEXT = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


def _text_of(part: Any, fields: dict[str, str]) -> Any:
    """The generated text a content block or delta carries, by its type (or None)."""
    if not isinstance(part, dict):
        return None
    field = fields.get(str(part.get("type")))
    return part.get(field) if field else None


class _NativeUsage:
    """Reads usage and generated text from native Anthropic events.

    message_start carries the input side (the output so far is only a placeholder),
    message_delta the cumulative output (and, in newer API versions, the input side again);
    later values win. Text: text and thinking, tool names and their input's JSON.
    """

    def __init__(self) -> None:
        self._usage: dict[str, Any] = {}

    def __call__(self, name: str, data: dict[str, Any], tally: UsageTally) -> None:
        if name == "error":
            error = data.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            raise UpstreamStreamError(str(message or "stream error"))
        if name == "content_block_delta":
            tally.saw(_text_of(data.get("delta"), _DELTA_TEXT))
        elif name == "content_block_start":
            tally.saw(_text_of(data.get("content_block"), _BLOCK_TEXT))
        elif name == "message_start":
            self._report((data.get("message") or {}).get("usage"), tally, complete=False)
        elif name == "message_delta":
            self._report(data.get("usage"), tally, complete=True)

    def _report(self, reported: Any, tally: UsageTally, complete: bool) -> None:
        if isinstance(reported, dict):
            self._usage.update({k: v for k, v in reported.items() if v is not None})
        usage = from_anthropic({"input_tokens": 0, **self._usage})
        if usage is not None:
            tally.report(usage, complete)


def message_usage(message: dict[str, Any], body_size: int) -> Usage:
    """A native Message's usage, or the estimate from its content (see protocols.usage)."""
    tally = UsageTally()
    blocks = message.get("content")
    for block in blocks if isinstance(blocks, list) else ():
        tally.saw(_text_of(block, _BLOCK_TEXT))
        if isinstance(block, dict) and block.get("input"):
            tally.saw(orjson.dumps(block["input"]).decode())
    usage = from_anthropic(message.get("usage"))
    if usage is not None:
        tally.report(usage)
    return tally.usage(body_size)


class _FromChat:
    """OpenAI chunks to Anthropic events."""

    def __init__(self, model: str) -> None:
        self._translator = anthropic.ChatStreamToMessages(model, "msg_" + secrets.token_hex(12))
        self.tally = UsageTally()

    def convert(self, event: Event) -> list[bytes]:
        chunk = openai_chat.decode_chunk(event[1])
        openai_chat.tally_chunk(chunk, self.tally)
        return [sse(name, data) for name, data in self._translator.feed(chunk)]

    def close(self) -> list[bytes]:
        return [sse(name, data) for name, data in self._translator.finish()]

    def error(self, error: UpstreamError) -> bytes:
        return _error_event(error.message)


def messages_exchange(relay: Relay, body: dict[str, Any], body_size: int) -> Exchange:
    stream = bool(body.get("stream"))
    native_body = without_routing_fields(body)
    demand = request_demand(body, body_size, body["max_tokens"])

    def is_native(route: Route) -> bool:
        return route.provider.spec.protocol == "anthropic"

    def chat_body(route: Route, dropped: Dropped) -> dict[str, Any]:
        limit = relay.output_limit(demand.output_limit, route)  # the client's max_tokens
        chat = anthropic.messages_to_chat_request(native_body, dropped)
        return upstream_chat_body(chat, route, limit)

    def native(route: Route) -> dict[str, Any]:
        exchange.dropped = None  # passed through: nothing left out
        provider = route.provider
        return native_request(
            native_body, route.model.id, provider.name, provider.spec.passthrough_fields
        )

    async def call(route: Route) -> Answer:
        adapter = relay.adapter(route)
        if is_native(route):
            reply = await adapter.messages(route.provider, native(route))
            return Answer(reply.body, message_usage(reply.data, body_size))
        dropped = translation_notes(exchange, route)
        reply = await adapter.chat(route.provider, chat_body(route, dropped), dropped)
        message = anthropic.chat_to_messages_response(reply.data, body["model"])
        return Answer(orjson.dumps(message), chat_usage(reply.data, body_size))

    async def open_stream(route: Route) -> tuple[EventStream, StreamCodec]:
        adapter = relay.adapter(route)
        if is_native(route):
            source = await adapter.messages_stream(route.provider, native(route))
            return source, PassthroughCodec(_NativeUsage(), _error_event)
        dropped = translation_notes(exchange, route)
        source = await adapter.chat_stream(route.provider, chat_body(route, dropped), dropped)
        return source, _FromChat(body["model"])

    exchange = Exchange(
        api="messages",
        body=plan_body(body),
        body_size=body_size,
        stream=stream,
        call=call,
        open=open_stream,
        demand=demand,
    )
    return exchange

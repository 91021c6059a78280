"""Anthropic Messages (`POST /v1/messages`) through the relay: passed through to Anthropic
upstreams, translated onto chat completions for every other provider."""

import secrets
from typing import Any

import orjson

from gatewayz.errors import UpstreamError
from gatewayz.protocols import anthropic, openai_chat
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.usage import Usage, from_anthropic, from_openai
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Event
from gatewayz.relay.chat import chat_usage, request_demand, upstream_chat_body
from gatewayz.relay.core import Relay
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec
from gatewayz.relay.translated import PassthroughCodec, plan_body, sse
from gatewayz.routing.options import without_routing_fields


def _error_event(message: str) -> bytes:
    return sse("error", anthropic.error_body(502, message, None))


class _NativeUsage:
    """Reads usage and text from native Anthropic events.

    message_start carries the input side, message_delta the cumulative output (and, in
    newer API versions, the input side again); later values win.
    """

    def __init__(self) -> None:
        self._usage: dict[str, Any] = {}

    def __call__(self, name: str, data: dict[str, Any]) -> tuple[Usage | None, int]:
        if name == "error":
            error = data.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            raise UpstreamStreamError(str(message or "stream error"))
        if name == "content_block_delta":
            text = (data.get("delta") or {}).get("text")
            return None, len(text) if isinstance(text, str) else 0
        if name == "message_start":
            reported = (data.get("message") or {}).get("usage")
        elif name == "message_delta":
            reported = data.get("usage")
        else:
            return None, 0
        if isinstance(reported, dict):
            self._usage.update({k: v for k, v in reported.items() if v is not None})
        return from_anthropic({"input_tokens": 0, **self._usage}), 0


class _FromChat:
    """OpenAI chunks to Anthropic events."""

    def __init__(self, model: str) -> None:
        self._translator = anthropic.ChatStreamToMessages(model, "msg_" + secrets.token_hex(12))
        self.usage: Usage | None = None
        self.text_chars = 0

    def convert(self, event: Event) -> list[bytes]:
        chunk = openai_chat.decode_chunk(event[1])
        self.text_chars += openai_chat.delta_text_chars(chunk)
        reported = from_openai(chunk.get("usage"))
        if reported is not None:
            self.usage = reported
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

    def chat_body(route: Route) -> dict[str, Any]:
        limit = relay.output_limit(demand.output_limit, route)  # the client's max_tokens
        return upstream_chat_body(anthropic.messages_to_chat_request(native_body), route, limit)

    async def call(route: Route) -> Answer:
        adapter = relay.adapter(route)
        if is_native(route):
            reply = await adapter.messages(route.provider, {**native_body, "model": route.model.id})
            return Answer(reply.body, from_anthropic(reply.data.get("usage")))
        reply = await adapter.chat(route.provider, chat_body(route))
        message = anthropic.chat_to_messages_response(reply.data, body["model"])
        return Answer(orjson.dumps(message), chat_usage(reply.data, body_size))

    async def open_stream(route: Route) -> tuple[EventStream, StreamCodec]:
        adapter = relay.adapter(route)
        if is_native(route):
            source = await adapter.messages_stream(
                route.provider, {**native_body, "model": route.model.id}
            )
            return source, PassthroughCodec(_NativeUsage(), _error_event)
        source = await adapter.chat_stream(route.provider, chat_body(route))
        return source, _FromChat(body["model"])

    return Exchange(
        api="messages",
        body=plan_body(body),
        body_size=body_size,
        stream=stream,
        call=call,
        open=open_stream,
        demand=demand,
    )

"""Anthropic Messages (`POST /v1/messages`, `POST /v1/messages/count_tokens`) through the
relay: passed through to Anthropic upstreams, translated onto chat completions for every other
provider."""

import secrets
from typing import Any

import orjson

from gatewayz.billing.worst_case import Demand
from gatewayz.errors import UpstreamError
from gatewayz.protocols import anthropic, openai_chat
from gatewayz.protocols.anthropic.betas import betas_sent
from gatewayz.protocols.anthropic.passthrough import native_request, without_gateway_thinking
from gatewayz.protocols.anthropic.token_estimate import estimate_input_tokens
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.usage import Usage, UsageTally, from_anthropic
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.chat import CHAT, chat_usage, request_demand, upstream_chat_body
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec, Target
from gatewayz.relay.plan import call_plan
from gatewayz.relay.translated import PassthroughCodec, chat_chunk, sse, translation_notes
from gatewayz.routing.options import without_routing_fields

MESSAGES = "the Messages API"


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

    reply: dict[str, Any] | None = None  # keeps no chat reply

    def __init__(self, model: str, provider: str, input_tokens: int, show_thinking: bool) -> None:
        self._translator = anthropic.ChatStreamToMessages(
            model, "msg_" + secrets.token_hex(12), input_tokens, provider, show_thinking
        )
        self.tally = UsageTally()

    def convert(self, event: Event | Chunk) -> list[bytes]:
        chunk = chat_chunk(event)
        openai_chat.tally_chunk(chunk, self.tally)
        return [sse(name, data) for name, data in self._translator.feed(chunk)]

    def close(self) -> list[bytes]:
        return [sse(name, data) for name, data in self._translator.finish()]

    def error(self, error: UpstreamError) -> bytes:
        return _error_event(error.message)


def _is_native(route: Route) -> bool:
    return route.provider.spec.protocol == "anthropic"


def _reasoning_for(route: Route) -> str | None:
    """The provider that takes its own reasoning back in chat messages: an OpenAI-compatible
    one (not one served through the Responses API, nor Gemini: they keep reasoning their way)."""
    spec = route.provider.spec
    if spec.protocol != "openai" or "responses_api" in spec.quirks:
        return None
    return route.provider.name


def _shows_thinking(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return not (isinstance(thinking, dict) and thinking.get("display") == "omitted")


class _Native:
    """A request as an Anthropic upstream receives it: the passthrough rules (see
    protocols.anthropic.passthrough), and the betas they allow (see .betas)."""

    def __init__(self, body: dict[str, Any], beta_header: str | None) -> None:
        self.body = without_routing_fields(body)
        self.beta_header = beta_header

    def request(self, route: Route, dropped: Dropped) -> tuple[dict[str, Any], list[str]]:
        provider = route.provider
        allowed = provider.spec.passthrough_fields
        body = native_request(self.body, route.model.id, provider.name, allowed)
        betas = betas_sent(self.beta_header, allowed, dropped)
        return without_gateway_thinking(body, dropped), betas


def messages_exchange(
    body: dict[str, Any], body_size: int, request_id: str, beta_header: str | None = None
) -> Exchange:
    """A Messages request, passed through to Anthropic upstreams (with the betas of
    `beta_header` that may go on), translated onto chat completions for the others."""
    stream = bool(body.get("stream"))
    native = _Native(body, beta_header)
    demand = request_demand(body, body_size, body["max_tokens"])
    show_thinking = _shows_thinking(body)

    def chat_body(target: Target, dropped: Dropped) -> dict[str, Any]:
        route = target.route
        chat = anthropic.messages_to_chat_request(native.body, dropped, _reasoning_for(route))
        return upstream_chat_body(chat, route, target.output_limit)  # the client's max_tokens

    async def call(target: Target) -> Answer:
        route = target.route
        dropped = translation_notes(exchange, route)
        if _is_native(route):
            request, betas = native.request(route, dropped)
            passthrough = target.needs(target.adapter.messages, MESSAGES)
            reply = await passthrough.messages(route.provider, request, betas)
            return Answer(reply.body, message_usage(reply.data, body_size))
        adapter = target.needs(target.adapter.chat, CHAT)
        reply = await adapter.chat(route.provider, chat_body(target, dropped), dropped)
        message = anthropic.chat_to_messages_response(
            reply.data, body["model"], route.provider.name, show_thinking
        )
        return Answer(orjson.dumps(message), chat_usage(reply.data, body_size))

    async def open_stream(target: Target) -> tuple[EventStream, StreamCodec]:
        route = target.route
        dropped = translation_notes(exchange, route)
        if _is_native(route):
            request, betas = native.request(route, dropped)
            passthrough = target.needs(target.adapter.messages, MESSAGES)
            source = await passthrough.messages_stream(route.provider, request, betas)
            return source, PassthroughCodec(_NativeUsage(), _error_event)
        adapter = target.needs(target.adapter.chat, CHAT)
        source = await adapter.chat_stream(route.provider, chat_body(target, dropped), dropped)
        estimate = estimate_input_tokens(body)
        return source, _FromChat(body["model"], route.provider.name, estimate, show_thinking)

    exchange = Exchange(
        call_plan("messages", body, demand, request_id, stream=stream), call=call, open=open_stream
    )
    return exchange


def count_tokens_exchange(
    body: dict[str, Any], body_size: int, request_id: str, beta_header: str | None = None
) -> Exchange:
    """A token count of a Messages request (`POST /v1/messages/count_tokens`): passed
    through to Anthropic upstreams, estimated for the others (see
    protocols.anthropic.token_estimate). It costs nothing and holds nothing."""
    native = _Native(body, beta_header)

    async def call(target: Target) -> Answer:
        route = target.route
        dropped = translation_notes(exchange, route)
        if not _is_native(route):
            return Answer(orjson.dumps({"input_tokens": estimate_input_tokens(body)}), None)
        request = without_gateway_thinking({**native.body, "model": route.model.id}, dropped)
        betas = betas_sent(native.beta_header, route.provider.spec.passthrough_fields, dropped)
        passthrough = target.needs(target.adapter.messages, MESSAGES)
        reply = await passthrough.count_tokens(route.provider, request, betas)
        return Answer(reply.body, None)

    demand = Demand(body_size, output_limit=1)  # what it takes of a token rate limit
    plan = call_plan("messages.count_tokens", body, demand, request_id)
    exchange = Exchange(plan, call=call, worst_case=lambda route: 0)
    return exchange

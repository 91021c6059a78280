"""The Gemini API (`models/{model}:generateContent`, `:streamGenerateContent`) through the
relay: passed through to Gemini upstreams, translated onto chat completions for every other
provider. Either way the output limit held is the one sent (`maxOutputTokens`, or the chat
request's limit), times `candidateCount`."""

from typing import Any

import orjson

from gatewayz.errors import UpstreamError, google_status
from gatewayz.protocols import openai_chat
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.gemini import client
from gatewayz.protocols.gemini.from_chat import ChatStreamToGemini, chat_to_gemini_response
from gatewayz.protocols.gemini.passthrough import native_request
from gatewayz.protocols.gemini.response import chat_usage as gemini_chat_usage
from gatewayz.protocols.gemini.to_chat import gemini_to_chat_request
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.usage import Usage, UsageTally, from_openai
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.chat import CHAT, chat_usage, request_demand, upstream_chat_body
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec, Target
from gatewayz.relay.plan import call_plan
from gatewayz.relay.translated import PassthroughCodec, chat_chunk, translation_notes

GEMINI = "the Gemini API"


def sse_data(data: Any) -> bytes:
    """One unnamed server-sent event, as Google's API streams them."""
    return b"data: " + orjson.dumps(data) + b"\r\n\r\n"


def error_event(message: str, status: int = 502) -> bytes:
    """A mid-stream error as the Gemini SDKs raise it (`{"error": {...}}`)."""
    error = {"code": status, "message": message, "status": google_status(status)}
    return sse_data({"error": error})


def _tally_response(data: dict[str, Any], tally: UsageTally) -> None:
    """Note the generated text (thoughts too) and the usage of one GenerateContentResponse;
    its usage is complete once a candidate has finished."""
    if "error" in data:
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise UpstreamStreamError(str(message or "stream error"))
    finished = False
    for candidate in data.get("candidates") or ():
        finished = finished or bool(candidate.get("finishReason"))
        for part in (candidate.get("content") or {}).get("parts") or ():
            tally.saw(part.get("text"))
            call = part.get("functionCall")
            if isinstance(call, dict):
                tally.saw(call.get("name"))
                tally.saw(orjson.dumps(call.get("args") or {}).decode())
    usage = from_openai(gemini_chat_usage(data.get("usageMetadata")))
    if usage is not None:
        tally.report(usage, complete=finished)


def _inspect(name: str, data: dict[str, Any], tally: UsageTally) -> None:
    _tally_response(data, tally)


def native_usage(data: dict[str, Any], body_size: int) -> Usage:
    """A native GenerateContentResponse's usage, or the estimate from its text."""
    tally = UsageTally()
    _tally_response(data, tally)
    return tally.usage(body_size)


class _FromChat:
    """OpenAI chunks to Gemini stream events."""

    reply: dict[str, Any] | None = None  # keeps no chat reply

    def __init__(self, model: str, include_thoughts: bool) -> None:
        self._translator = ChatStreamToGemini(model, include_thoughts)
        self.tally = UsageTally()

    def convert(self, event: Event | Chunk) -> list[bytes]:
        chunk = chat_chunk(event)
        openai_chat.tally_chunk(chunk, self.tally)
        return [sse_data(response) for response in self._translator.feed(chunk)]

    def close(self) -> list[bytes]:
        return [sse_data(response) for response in self._translator.finish()]

    def error(self, error: UpstreamError) -> bytes:
        return error_event(error.message, error.status)


def generate_exchange(
    model: str, body: dict[str, Any], body_size: int, request_id: str, stream: bool
) -> Exchange:
    """A Gemini client's request for `model`, served by any provider."""
    demand = request_demand(body, body_size, client.output_limit(body), client.candidates(body))
    thoughts = client.include_thoughts(body)

    def is_native(route: Route) -> bool:
        return route.provider.spec.protocol == "gemini"

    def native(target: Target) -> dict[str, Any]:
        exchange.dropped = None  # passed through: nothing left out
        provider = target.route.provider
        allowed = provider.spec.passthrough_fields
        return native_request(body, provider.name, allowed, target.output_limit)

    def chat_body(target: Target, dropped: Dropped) -> dict[str, Any]:
        chat = gemini_to_chat_request(body, model, dropped)
        if stream:
            chat["stream"] = True
        return upstream_chat_body(chat, target.route, target.output_limit)

    async def call(target: Target) -> Answer:
        route = target.route
        if is_native(route):
            passthrough = target.needs(target.adapter.gemini, GEMINI)
            reply = await passthrough.generate(route.provider, route.model.id, native(target))
            return Answer(reply.body, native_usage(reply.data, body_size))
        dropped = translation_notes(exchange, route)
        adapter = target.needs(target.adapter.chat, CHAT)
        reply = await adapter.chat(route.provider, chat_body(target, dropped), dropped)
        answer = chat_to_gemini_response(reply.data, model, thoughts)
        return Answer(orjson.dumps(answer), chat_usage(reply.data, body_size))

    async def open_stream(target: Target) -> tuple[EventStream, StreamCodec]:
        route = target.route
        if is_native(route):
            passthrough = target.needs(target.adapter.gemini, GEMINI)
            model_id = route.model.id
            source = await passthrough.generate_stream(route.provider, model_id, native(target))
            return source, PassthroughCodec(_inspect, error_event)
        dropped = translation_notes(exchange, route)
        adapter = target.needs(target.adapter.chat, CHAT)
        source = await adapter.chat_stream(route.provider, chat_body(target, dropped), dropped)
        return source, _FromChat(model, thoughts)

    plan = call_plan("gemini.generate_content", {"model": model}, demand, request_id, stream=stream)
    exchange = Exchange(plan, call=call, open=open_stream)
    return exchange

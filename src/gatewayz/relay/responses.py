"""The OpenAI Responses API (`POST /v1/responses`) through the relay: passed through to
providers that serve it natively, translated onto chat completions for the rest."""

import secrets
import time
from typing import Any

import orjson

from gatewayz.errors import UpstreamError
from gatewayz.protocols import openai_chat, responses
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.usage import Usage, from_openai, from_responses
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Event
from gatewayz.relay.chat import chat_usage, request_demand, upstream_chat_body
from gatewayz.relay.core import Relay
from gatewayz.relay.exchange import Answer, Exchange, StreamCodec
from gatewayz.relay.translated import PassthroughCodec, plan_body, sse
from gatewayz.routing.options import without_routing_fields

_FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _events(events: list[dict[str, Any]]) -> list[bytes]:
    return [sse(event["type"], event) for event in events]


def _error_event(message: str) -> bytes:
    return sse(
        "error", {"type": "error", "code": "upstream_error", "message": message, "param": None}
    )


def _inspect(name: str, data: dict[str, Any]) -> tuple[Usage | None, int]:
    """Usage and text of one native Responses event."""
    if name == "error":
        raise UpstreamStreamError(str(data.get("message") or "stream error"))
    if name == "response.output_text.delta":
        delta = data.get("delta")
        return None, len(delta) if isinstance(delta, str) else 0
    if name in _FINAL:
        return from_responses((data.get("response") or {}).get("usage")), 0
    return None, 0


class _FromChat:
    """OpenAI chat chunks to Responses stream events."""

    def __init__(self, translator: responses.ChatStreamToResponses) -> None:
        self._translator = translator
        self._started = False
        self.usage: Usage | None = None
        self.text_chars = 0

    def convert(self, event: Event) -> list[bytes]:
        chunk = openai_chat.decode_chunk(event[1])
        self.text_chars += openai_chat.delta_text_chars(chunk)
        reported = from_openai(chunk.get("usage"))
        if reported is not None:
            self.usage = reported
        out = [] if self._started else self._translator.start()
        self._started = True
        return _events(out + self._translator.feed(chunk))

    def close(self) -> list[bytes]:
        return _events(self._translator.finish())

    def error(self, error: UpstreamError) -> bytes:
        return b"".join(_events(self._translator.fail(error.message)))


def responses_exchange(relay: Relay, body: dict[str, Any], body_size: int) -> Exchange:
    native_body = without_routing_fields(body)
    demand = request_demand(body, body_size, body.get("max_output_tokens"))
    response_id = "resp_" + secrets.token_hex(16)
    created = int(time.time())

    def is_native(route: Route) -> bool:
        spec = route.provider.spec
        return spec.protocol == "openai" and "responses_api" in spec.quirks

    def limit(route: Route) -> int:
        return relay.output_limit(demand.output_limit, route)

    def native(route: Route) -> dict[str, Any]:
        """The body passed through, with the limit held (also when the client sent none)."""
        return {**native_body, "model": route.model.id, "max_output_tokens": limit(route)}

    def chat_body(route: Route) -> dict[str, Any]:
        chat = responses.responses_to_chat_request(native_body)
        return upstream_chat_body(chat, route, limit(route))

    async def call(route: Route) -> Answer:
        adapter = relay.adapter(route)
        if is_native(route):
            reply = await adapter.responses(route.provider, native(route))
            return Answer(reply.body, from_responses(reply.data.get("usage")))
        reply = await adapter.chat(route.provider, chat_body(route))
        answer = responses.chat_to_response(reply.data, body, response_id, created)
        return Answer(orjson.dumps(answer), chat_usage(reply.data, body_size))

    async def open_stream(route: Route) -> tuple[EventStream, StreamCodec]:
        adapter = relay.adapter(route)
        if is_native(route):
            source = await adapter.responses_stream(route.provider, native(route))
            return source, PassthroughCodec(_inspect, _error_event)
        source = await adapter.chat_stream(route.provider, chat_body(route))
        return source, _FromChat(responses.ChatStreamToResponses(body, response_id, created))

    return Exchange(
        api="responses",
        body=plan_body(body),
        body_size=body_size,
        stream=bool(body.get("stream")),
        call=call,
        open=open_stream,
        demand=demand,
    )

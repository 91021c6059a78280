"""What the Responses translation tests share: recorded upstream answers, and checks of
every Response and stream event against OpenAI's spec and the official `openai` SDK's
own types (streams through the SDK's accumulator too)."""

import json
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import strategies as st
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.responses import ChatStreamToResponses, responses_to_chat_request
from tests.openai_spec import validate

RESPONSE_ID = "resp_0123abcd"
CREATED_AT = 1_760_000_000
USAGE = {
    "prompt_tokens": 31,
    "completion_tokens": 9,
    "total_tokens": 40,
    "prompt_tokens_details": {"cached_tokens": 16},
    "completion_tokens_details": {"reasoning_tokens": 4},
}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}
EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.refusal.delta": "ResponseRefusalDeltaEvent",
    "response.refusal.done": "ResponseRefusalDoneEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.reasoning_summary_part.added": "ResponseReasoningSummaryPartAddedEvent",
    "response.reasoning_summary_text.delta": "ResponseReasoningSummaryTextDeltaEvent",
    "response.reasoning_summary_text.done": "ResponseReasoningSummaryTextDoneEvent",
    "response.reasoning_summary_part.done": "ResponseReasoningSummaryPartDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
}
SDK_EVENT = TypeAdapter(ResponseStreamEvent)
# Tool names and call ids for property tests.
IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=10)


def completion(
    content: str | None = None,
    tool_calls: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    finish_reason: str = "stop",
    refusal: str | None = None,
    reasoning: str | None = None,
) -> dict[str, Any]:
    """A chat.completion as an upstream returns it; tool calls are (id, name, arguments)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [
            {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}
            for id_, name, args in tool_calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": USAGE,
    }


def chunk(delta: dict[str, Any] | None = None, finish_reason: str | None = None) -> dict[str, Any]:
    """A chat.completion.chunk with one choice."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-model",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
    }


def stream_chunks(
    pieces: list[str],
    tool_calls: list[tuple[str, str, list[str]]] = (),  # type: ignore[assignment]
    finish_reason: str = "stop",
    thoughts: list[str] = (),  # type: ignore[assignment]
) -> list[dict[str, Any]]:
    """A chat stream as the SDKs expect it: role once, reasoning (`reasoning_content`) first,
    a call's id and name only in its first fragment."""
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": thought}) for thought in thoughts]
    chunks += [chunk({"content": piece}) for piece in pieces]
    for index, (id_, name, fragments) in enumerate(tool_calls):
        first = {"index": index, "id": id_, "type": "function"}
        chunks.append(chunk({"tool_calls": [first | {"function": {"name": name}}]}))
        chunks += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
            for fragment in fragments
        ]
    chunks.append(chunk(finish_reason=finish_reason))
    chunks.append({**chunk(), "choices": [], "usage": USAGE})
    return chunks


def run_stream(request: dict[str, Any], chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event the translator emits for a whole chat stream."""
    stream = ChatStreamToResponses(request, RESPONSE_ID, CREATED_AT)
    events = stream.start()
    for item in chunks:
        events += stream.feed(item)
    return events + stream.finish()


def check_response(response: dict[str, Any]) -> Response:
    """Validate a Response against the spec and parse it with the SDK."""
    validate("Response", response)
    return Response.model_validate(response)


def check_events(events: list[dict[str, Any]]) -> list[Any]:
    """Validate events against the spec and the SDK; return what the SDK's accumulator emits."""
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    state = ResponseStreamState(input_tools=openai.omit, text_format=openai.omit)
    emitted = []
    for event in events:
        validate(EVENT_SCHEMAS[event["type"]], event)
        emitted += state.handle_event(SDK_EVENT.validate_python(event))
    return emitted


def sdk_client(handler: Any) -> openai.OpenAI:
    """An SDK client whose HTTP requests go to `handler` in-process."""
    transport = httpx2.MockTransport(handler)
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://gateway.test/v1",
        http_client=httpx2.Client(transport=transport),
    )


def sse(events: list[dict[str, Any]]) -> bytes:
    """Events written the way the gateway writes them."""
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def refused(body: dict[str, Any]) -> InvalidRequest:
    """The InvalidRequest that translating `body` raises."""
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat_request(body)
    return caught.value

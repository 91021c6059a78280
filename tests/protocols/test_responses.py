"""OpenAI Responses API on a chat completions upstream: request, response and stream.

Every Response and stream event is checked twice: against OpenAI's published spec and by the
official `openai` SDK's own types (streams through the SDK's accumulator too).
"""

import json
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.responses import (
    ChatStreamToResponses,
    chat_to_response,
    parse_request,
    responses_to_chat_request,
)
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
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
}
SDK_EVENT = TypeAdapter(ResponseStreamEvent)


# --- helpers -----------------------------------------------------------------------------


def completion(
    content: str | None = None,
    tool_calls: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    finish_reason: str = "stop",
    refusal: str | None = None,
) -> dict[str, Any]:
    """A chat.completion as an upstream returns it; tool calls are (id, name, arguments)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
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
) -> list[dict[str, Any]]:
    """A chat stream as the SDKs expect it: role once, a call's id and name only first."""
    chunks = [chunk({"role": "assistant", "content": ""})]
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


# --- parse_request -------------------------------------------------------------------


def test_parse_request_keeps_the_body_for_native_routes() -> None:
    body = {"model": "gpt-x", "input": "hi", "tools": [{"type": "web_search"}], "stream": True}
    assert parse_request(json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{not json", None),
        (b"[1]", None),
        (b'{"input": "hi"}', "model"),
        (b'{"model": "m", "stream": "yes"}', "stream"),
        (b'{"model": "m", "max_output_tokens": 0}', "max_output_tokens"),
        (b'{"model": "m", "max_output_tokens": 1.5}', "max_output_tokens"),
    ],
)
def test_parse_request_refuses_what_no_route_can_serve(raw: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert caught.value.param == param


# --- the request -------------------------------------------------------------------------


def test_string_input_becomes_one_user_message() -> None:
    chat = responses_to_chat_request({"model": "gpt-x", "input": "Say hi"})
    assert chat == {"model": "gpt-x", "messages": [{"role": "user", "content": "Say hi"}]}


def test_instructions_and_multi_turn_input_with_an_image() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    body = {
        "model": "gpt-x",
        "instructions": "Answer in French.",
        "input": [
            {"role": "developer", "content": "Be brief."},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this picture?"},
                    {"type": "input_image", "image_url": image, "detail": "low"},
                ],
            },
            {  # an earlier output item sent back as it came
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "Un chat.", "annotations": [], "logprobs": []}
                ],
            },
            {"role": "user", "content": "Quelle couleur ?"},
        ],
    }
    assert responses_to_chat_request(body)["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Un chat."}]},
        {"role": "user", "content": "Quelle couleur ?"},
    ]


def test_function_call_round_trip_keeps_call_ids() -> None:
    body = {
        "model": "gpt-x",
        "input": [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {"type": "message", "role": "assistant", "content": "Checking both."},
            {
                "type": "function_call",
                "call_id": "call_p",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {
                "type": "function_call",
                "call_id": "call_o",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
                "id": "fc_2",
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "call_p", "output": "18C"},
            {
                "type": "function_call_output",
                "call_id": "call_o",
                "output": [{"type": "input_text", "text": "4C"}],
            },
        ],
        "tools": [WEATHER],
    }
    chat = responses_to_chat_request(body)
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": "call_p",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_o",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_p", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_o", "content": [{"type": "text", "text": "4C"}]},
    ]
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city.",
                "parameters": WEATHER["parameters"],
                "strict": False,
            },
        }
    ]


def test_function_calls_without_text_start_their_own_assistant_message() -> None:
    chat = responses_to_chat_request(
        {
            "model": "gpt-x",
            "input": [
                {"role": "user", "content": "hi"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            ],
        }
    )
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert chat["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [call]}


def test_settings_are_translated() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    body = {
        "model": "gpt-x",
        "input": "hi",
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "max_output_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "text": {
            "format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True},
            "verbosity": "low",
        },
        "reasoning": {"effort": "low"},
        "metadata": {"trace": "t-1"},
        "stream": True,
        "store": False,
    }
    chat = responses_to_chat_request(body)
    del chat["messages"], chat["tools"]
    assert chat == {
        "model": "gpt-x",
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": True},
        },
        "verbosity": "low",
        "reasoning_effort": "low",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
        ),
    ],
)
def test_tool_choice(tool_choice: Any, expected: Any) -> None:
    body = {"model": "m", "input": "hi", "tools": [WEATHER], "tool_choice": tool_choice}
    assert responses_to_chat_request(body)["tool_choice"] == expected


def test_json_object_format_and_tool_settings_without_tools() -> None:
    body = {
        "model": "m",
        "input": "hi",
        "text": {"format": {"type": "json_object"}},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    chat = responses_to_chat_request(body)
    assert chat["response_format"] == {"type": "json_object"}
    assert "tool_choice" not in chat and "parallel_tool_calls" not in chat


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("store", False),
        ("background", False),
        ("truncation", "disabled"),
        ("include", []),
        ("previous_response_id", None),
        ("stream_options", {"include_obfuscation": False}),
        ("text", {"format": {"type": "text"}}),
    ],
)
def test_values_that_change_nothing_are_accepted(field: str, value: Any) -> None:
    chat = responses_to_chat_request({"model": "m", "input": "hi", field: value})
    assert chat == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _user(part: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "input": [{"role": "user", "content": [part]}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        (
            {"tools": [WEATHER, {"type": "file_search", "vector_store_ids": ["vs_1"]}]},
            "tools[1].type",
        ),
        (
            {
                "tools": [
                    {
                        "type": "computer_use_preview",
                        "display_width": 1,
                        "display_height": 1,
                        "environment": "linux",
                    }
                ]
            },
            "tools[0].type",
        ),
        ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "tools[0].type"),
        ({"tools": [{"type": "mcp", "server_label": "x"}]}, "tools[0].type"),
        ({"tools": [WEATHER | {"defer_loading": True}]}, "tools[0].defer_loading"),
        ({"tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"store": True}, "store"),
        ({"include": ["reasoning.encrypted_content"]}, "include"),
        ({"truncation": "auto"}, "truncation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"reasoning": {"effort": "low", "summary": "auto"}}, "reasoning.summary"),
        ({"stream_options": {"include_obfuscation": True}}, "stream_options"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"type": "reasoning", "id": "rs_1", "summary": []}]}, "input[0].type"),
        (
            {"input": [{"role": "assistant", "content": "x", "phase": "commentary"}]},
            "input[0].phase",
        ),
        (
            _user({"type": "input_image", "file_id": "file_1", "detail": "auto"}),
            "input[0].content[0].file_id",
        ),
        (
            _user({"type": "input_image", "image_url": "https://x/a.png", "detail": "original"}),
            "input[0].content[0].detail",
        ),
        (
            _user({"type": "input_file", "file_url": "https://x/a.pdf"}),
            "input[0].content[0].file_url",
        ),
        (
            {
                "input": [
                    {
                        "role": "system",
                        "content": [{"type": "input_image", "image_url": "https://x/a.png"}],
                    }
                ]
            },
            "input[0].content[0].type",
        ),
        (
            {
                "input": [
                    {
                        "role": "assistant",
                        "content": [{"type": "input_image", "image_url": "https://x"}],
                    }
                ]
            },
            "input[0].content[0].type",
        ),
        ({"text": {"format": {"type": "grammar"}}}, "text.format.type"),
    ],
)
def test_what_chat_completions_cannot_express_is_refused(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat_request({"model": "m", "input": "hi"} | body)
    assert caught.value.param == param
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "", "input": "hi"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": 7}, "input"),
        ({"model": "m", "input": ["hi"]}, "input[0]"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": "user", "content": 5}]}, "input[0].content"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text",
        ),
        (
            {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        (
            {
                "model": "m",
                "input": [{"type": "function_call_output", "call_id": "c", "output": 3}],
            },
            "input[0].output",
        ),
        ({"model": "m", "input": "hi", "temperature": "hot"}, "temperature"),
        ({"model": "m", "input": "hi", "stream": "yes"}, "stream"),
        ({"model": "m", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": "hi", "max_output_tokens": True}, "max_output_tokens"),
        ({"model": "m", "input": "hi", "tools": {"type": "function"}}, "tools"),
        ({"model": "m", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
    ],
)
def test_malformed_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat_request(body)
    assert caught.value.param == param


def test_the_sdks_own_request_body_translates() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        chat = responses_to_chat_request(body)
        seen.append(chat)
        answer = completion('{"city": "Paris"}')
        return httpx2.Response(200, json=chat_to_response(answer, body, RESPONSE_ID, CREATED_AT))

    response = sdk_client(handler).responses.create(
        model="gpt-x",
        instructions="Be exact.",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "Where?"}]},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="auto",
        text={"format": {"type": "json_object"}},
        max_output_tokens=64,
        metadata={"k": "v"},
        store=False,
    )
    assert [m["role"] for m in seen[0]["messages"]] == ["system", "user", "assistant", "tool"]
    assert seen[0]["max_tokens"] == 64
    assert response.output_text == '{"city": "Paris"}'
    assert response.metadata == {"k": "v"}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_object"


# --- the response ------------------------------------------------------------------------


def test_text_answer_becomes_a_completed_response() -> None:
    request = {"model": "gpt-x", "input": "hi", "instructions": "Be kind.", "metadata": {"a": "b"}}
    response = chat_to_response(completion("Hello there."), request, RESPONSE_ID, CREATED_AT)
    parsed = check_response(response)
    assert parsed.status == "completed"
    assert parsed.output_text == "Hello there."
    assert response["output"] == [
        {
            "id": "msg_0123abcd",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Hello there.", "annotations": [], "logprobs": []}
            ],
        }
    ]
    assert response["usage"] == {
        "input_tokens": 31,
        "input_tokens_details": {"cached_tokens": 16, "cache_write_tokens": 0},
        "output_tokens": 9,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 40,
    }
    assert (parsed.id, parsed.created_at, parsed.model) == (RESPONSE_ID, CREATED_AT, "gpt-x")
    assert (parsed.instructions, parsed.metadata) == ("Be kind.", {"a": "b"})
    assert (parsed.temperature, parsed.top_p, parsed.tool_choice) == (1.0, 1.0, "auto")
    assert parsed.parallel_tool_calls is True and parsed.tools == []


def test_tool_calls_become_function_call_items() -> None:
    request = {
        "model": "gpt-x",
        "input": "hi",
        "tools": [WEATHER],
        "tool_choice": "required",
        "temperature": 0.3,
        "max_output_tokens": 100,
    }
    answer = completion(
        None,
        [("call_a", "get_weather", '{"city":"Rome"}'), ("call_b", "get_weather", "{}")],
        "tool_calls",
    )
    response = chat_to_response(answer, request, RESPONSE_ID, CREATED_AT)
    parsed = check_response(response)
    assert response["output"] == [
        {
            "id": "fc_0123abcd_0",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city":"Rome"}',
        },
        {
            "id": "fc_0123abcd_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_b",
            "name": "get_weather",
            "arguments": "{}",
        },
    ]
    assert parsed.tools[0].type == "function" and parsed.tools[0].name == "get_weather"
    assert (parsed.tool_choice, parsed.temperature, parsed.max_output_tokens) == (
        "required",
        0.3,
        100,
    )


@pytest.mark.parametrize(
    ("finish_reason", "reason"),
    [("length", "max_output_tokens"), ("content_filter", "content_filter")],
)
def test_a_cut_off_answer_is_incomplete(finish_reason: str, reason: str) -> None:
    request = {"model": "m", "input": "hi", "max_output_tokens": 16}
    response = chat_to_response(
        completion("Once upon", finish_reason=finish_reason), request, RESPONSE_ID, CREATED_AT
    )
    parsed = check_response(response)
    assert parsed.status == "incomplete"
    assert parsed.incomplete_details is not None and parsed.incomplete_details.reason == reason
    assert parsed.output[0].status == "incomplete"
    assert parsed.output_text == "Once upon"


def test_a_refusal_is_a_refusal_part() -> None:
    response = chat_to_response(
        completion(refusal="I can't help."), {"model": "m"}, RESPONSE_ID, CREATED_AT
    )
    parsed = check_response(response)
    assert response["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help."}]
    assert parsed.output_text == ""


# --- the stream --------------------------------------------------------------------------


def test_streamed_text_answer() -> None:
    request = {"model": "gpt-x", "input": "hi", "stream": True}
    events = run_stream(request, stream_chunks(["Hel", "lo", " world"]))
    emitted = check_events(events)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e for e in emitted if e.type == "response.output_text.delta"]
    assert deltas[-1].snapshot == "Hello world"  # what the SDK accumulated
    final = emitted[-1].response
    assert final.output_text == "Hello world"
    assert final.usage is not None and final.usage.input_tokens == 31
    assert events[-1]["response"] == chat_to_response(
        completion("Hello world"), request, RESPONSE_ID, CREATED_AT
    )
    text_events = [e for e in events if "item_id" in e]
    assert {(e["item_id"], e["output_index"], e["content_index"]) for e in text_events} == {
        ("msg_0123abcd", 0, 0)
    }


def test_streamed_tool_calls() -> None:
    request = {"model": "gpt-x", "input": "hi", "tools": [WEATHER], "stream": True}
    calls = [
        ("call_a", "get_weather", ['{"ci', 'ty":"Ro', 'me"}']),
        ("call_b", "get_weather", ["{}"]),
    ]
    events = run_stream(request, stream_chunks(["Let me check."], calls, "tool_calls"))
    emitted = check_events(events)
    snapshots = {
        e.item_id: e.snapshot for e in emitted if e.type == "response.function_call_arguments.delta"
    }
    assert snapshots == {"fc_0123abcd_0": '{"city":"Rome"}', "fc_0123abcd_1": "{}"}
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [(e["output_index"], e["name"], e["arguments"]) for e in done] == [
        (1, "get_weather", '{"city":"Rome"}'),
        (2, "get_weather", "{}"),
    ]
    for event in events:
        if event["type"].startswith("response.function_call_arguments"):
            assert event["item_id"] == f"fc_0123abcd_{event['output_index'] - 1}"
    answer = completion("Let me check.", [(i, n, "".join(f)) for i, n, f in calls], "tool_calls")
    assert events[-1]["response"] == chat_to_response(answer, request, RESPONSE_ID, CREATED_AT)
    final = emitted[-1].response
    assert [(o.call_id, o.arguments) for o in final.output[1:]] == [
        ("call_a", '{"city":"Rome"}'),
        ("call_b", "{}"),
    ]


def test_the_sdk_streams_a_gateway_answer_end_to_end() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        assert responses_to_chat_request(body)["stream_options"] == {"include_usage": True}
        calls = [("call_1", "get_weather", ['{"city":', '"Oslo"}'])]
        events = run_stream(body, stream_chunks(["Sure", "."], calls, "tool_calls"))
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse(events)
        )

    client = sdk_client(handler)
    with client.responses.stream(
        model="gpt-x", input="Weather in Oslo?", tools=[WEATHER]
    ) as stream:  # type: ignore[list-item]
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text == "Sure."
    assert final.output[1].type == "function_call"
    assert (final.output[1].call_id, final.output[1].arguments) == ("call_1", '{"city":"Oslo"}')


def test_streamed_answer_cut_off_by_length_ends_incomplete() -> None:
    request = {"model": "m", "input": "hi", "max_output_tokens": 16}
    events = run_stream(request, stream_chunks(["Once", " upon"], finish_reason="length"))
    emitted = check_events(events)
    assert events[-1]["type"] == "response.incomplete"
    assert emitted[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-1]["response"] == chat_to_response(
        completion("Once upon", finish_reason="length"), request, RESPONSE_ID, CREATED_AT
    )


def test_streamed_refusal() -> None:
    chunks = [
        chunk({"role": "assistant", "refusal": "No"}),
        chunk({"refusal": "pe."}),
        chunk(finish_reason="stop"),
    ]
    events = run_stream({"model": "m"}, chunks)
    check_events(events)
    assert [e["delta"] for e in events if e["type"] == "response.refusal.delta"] == ["No", "pe."]
    assert events[-1]["response"]["output"][0]["content"] == [
        {"type": "refusal", "refusal": "Nope."}
    ]


def test_an_empty_stream_still_answers_with_one_message() -> None:
    request = {"model": "m", "input": "hi"}
    events = run_stream(request, [chunk({"role": "assistant"}), chunk(finish_reason="stop")])
    check_events(events)
    answer = completion(None)
    del answer["usage"]
    assert events[-1]["response"] == chat_to_response(answer, request, RESPONSE_ID, CREATED_AT)


def test_an_upstream_failure_mid_stream_fails_the_response() -> None:
    stream = ChatStreamToResponses({"model": "m", "input": "hi"}, RESPONSE_ID, CREATED_AT)
    events = stream.start() + stream.feed(chunk({"role": "assistant", "content": "Par"}))
    events += stream.fail("groq: upstream closed the connection")
    emitted = check_events(events)
    failed = emitted[-1].response
    assert events[-1]["type"] == "response.failed"
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == (
        "server_error",
        "groq: upstream closed the connection",
    )
    assert failed.output[0].status == "incomplete" and failed.output_text == "Par"


def test_a_stream_that_fails_before_its_first_chunk_still_opens() -> None:
    stream = ChatStreamToResponses({"model": "m", "input": "hi"}, RESPONSE_ID, CREATED_AT)
    events = stream.fail("upstream timed out")
    check_events(events)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.failed",
    ]
    assert stream.start() == []


# --- properties --------------------------------------------------------------------------

_text = st.text(max_size=12)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=10)


@st.composite
def _input_items(draw: st.DrawFn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for kind in draw(
        st.lists(st.sampled_from(["message", "call", "output"]), min_size=1, max_size=8)
    ):
        if kind == "message":
            role = draw(st.sampled_from(["user", "assistant", "system", "developer"]))
            part = "output_text" if role == "assistant" else "input_text"
            texts = draw(st.lists(_text, max_size=3))
            content: Any = (
                draw(_text) if draw(st.booleans()) else [{"type": part, "text": t} for t in texts]
            )
            items.append(
                {"role": role, "content": content}
                | ({"type": "message"} if draw(st.booleans()) else {})
            )
        elif kind == "call":
            items.append(
                {
                    "type": "function_call",
                    "call_id": draw(_ids),
                    "name": draw(_ids),
                    "arguments": draw(_text),
                }
            )
        else:
            items.append(
                {"type": "function_call_output", "call_id": draw(_ids), "output": draw(_text)}
            )
    return items


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content or []]


@settings(max_examples=150, deadline=None)
@given(
    items=_input_items(),
    names=st.lists(_ids, max_size=4, unique=True),
    instructions=st.none() | _text.filter(bool),
)
def test_translation_keeps_every_text_tool_and_call_id(
    items: list[dict[str, Any]], names: list[str], instructions: str | None
) -> None:
    tools = [{"type": "function", "name": n, "parameters": None, "strict": None} for n in names]
    body = {"model": "m", "input": items, "tools": tools, "instructions": instructions}
    chat = responses_to_chat_request(body)
    messages = chat["messages"]
    if instructions:
        assert messages.pop(0) == {"role": "system", "content": instructions}
    sent = [t for i in items if i.get("role") for t in _texts(i["content"])]
    sent_outputs = [i["output"] for i in items if i.get("type") == "function_call_output"]
    assert [t for m in messages if m["role"] != "tool" for t in _texts(m["content"])] == sent
    assert [m["content"] for m in messages if m["role"] == "tool"] == sent_outputs
    calls = [c for m in messages for c in m.get("tool_calls", [])]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        (i["call_id"], i["name"], i["arguments"]) for i in items if i.get("type") == "function_call"
    ]
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == [
        i["call_id"] for i in items if i.get("type") == "function_call_output"
    ]
    assert [t["function"]["name"] for t in chat.get("tools", [])] == names


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.text(min_size=1, max_size=6), max_size=5),
    calls=st.lists(
        st.tuples(_ids, st.lists(st.text(min_size=1, max_size=6), max_size=4)), max_size=3
    ),
    finish_reason=st.sampled_from(["stop", "tool_calls", "length", "content_filter"]),
)
def test_a_stream_ends_as_its_unstreamed_twin(
    pieces: list[str], calls: list[tuple[str, list[str]]], finish_reason: str
) -> None:
    request = {"model": "m", "input": "hi"}
    tool_calls = [(f"call_{n}", name, fragments) for n, (name, fragments) in enumerate(calls)]
    events = run_stream(request, stream_chunks(pieces, tool_calls, finish_reason))
    emitted = check_events(events)
    answer = completion(
        "".join(pieces) or None, [(i, n, "".join(f)) for i, n, f in tool_calls], finish_reason
    )
    assert events[-1]["response"] == chat_to_response(answer, request, RESPONSE_ID, CREATED_AT)
    assert emitted[-1].response.output_text == "".join(pieces)
    arguments = {
        e.item_id: e.snapshot for e in emitted if e.type == "response.function_call_arguments.delta"
    }
    assert arguments == {f"fc_0123abcd_{n}": "".join(f) for n, (_, f) in enumerate(calls) if f}


# Every field of the spec's CreateResponse: each is translated, or refused with a reason.
CREATE_RESPONSE_FIELDS = frozenset(
    [
        "background",
        "context_management",
        "conversation",
        "include",
        "input",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "model",
        "moderation",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
    ]
)


@given(field=st.text(min_size=1, max_size=20).filter(lambda f: f not in CREATE_RESPONSE_FIELDS))
def test_unknown_fields_are_refused(field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat_request({"model": "m", "input": "hi", field: 1})
    assert caught.value.param == field
    assert caught.value.message == f"Unknown parameter: '{field}'."


@pytest.mark.parametrize("field", sorted(CREATE_RESPONSE_FIELDS))
def test_no_spec_field_is_unknown(field: str) -> None:
    try:
        responses_to_chat_request({"model": "m", "input": "hi", field: {"x": 1}})
    except InvalidRequest as error:
        assert not error.message.startswith("Unknown parameter")

"""Anthropic Messages <-> OpenAI chat translation: recorded examples both ways, the official
SDKs reading what we produce, round trips, and property tests that nothing is lost.

Recorded examples are kept as wire text (JSON bodies, SSE streams) so they read as sent."""

import copy
import itertools
import json
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.anthropic import (
    ChatStreamToMessages,
    MessagesStreamToChat,
    anthropic_error_type,
    chat_to_messages_request,
    chat_to_messages_response,
    error_body,
    messages_to_chat_request,
    messages_to_chat_response,
)
from gatewayz.protocols.openai_chat import UpstreamStreamError
from tests.openai_spec import validate

Json = dict[str, Any]
Event = tuple[str, Json]


def _sse_events(text: str) -> list[Event]:
    """(event, data) pairs of an Anthropic SSE stream."""
    frames = [dict(line.split(": ", 1) for line in f.splitlines()) for f in text.split("\n\n")]
    return [(frame["event"], json.loads(frame["data"])) for frame in frames if frame]


def _sse_data(text: str) -> list[Json]:
    """The JSON `data:` payloads of an OpenAI SSE stream."""
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def _refused(call: Any, *args: Any) -> str | None:
    with pytest.raises(InvalidRequest) as caught:
        call(*args)
    return caught.value.param


def _validate_message(message: Json) -> None:
    anthropic = pytest.importorskip("anthropic")
    anthropic.types.Message.model_validate(message)


def _mock_client(client_class: Any, body: bytes) -> Any:
    """An official SDK client whose every request is answered with the SSE `body`."""
    httpx2 = pytest.importorskip("httpx2")  # the HTTP library of openai 3.x and anthropic 2.x

    def reply(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    http = httpx2.Client(transport=httpx2.MockTransport(reply))
    return client_class(api_key="test", base_url="http://upstream.test", http_client=http)


# --- Anthropic request -> OpenAI chat request --------------------------------------------

# A tool-use conversation in the shape of the Anthropic docs, with every mapped field.
ANTHROPIC_REQUEST = """{
  "model": "claude-sonnet-4-20250514", "max_tokens": 1024,
  "system": [{"type": "text", "text": "You are a weather bot.",
              "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": [
      {"type": "text", "text": "What's the weather like in Beijing today?"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                   "data": "iVBORw0KGgo="}},
      {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.jpg"}}]},
    {"role": "assistant", "content": [
      {"type": "text", "text": "Let me help you check the weather in Beijing."},
      {"type": "tool_use", "id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "name": "get_weather",
       "input": {"location": "Beijing"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_012f3meaYuYj9yPPuyuRVw9U",
       "content": "15 degrees"},
      {"type": "text", "text": "And tomorrow?"}]}],
  "tools": [{"name": "get_weather",
             "description": "Get the current weather for a specified location",
             "input_schema": {"type": "object", "required": ["location"],
                              "properties": {"location": {"type": "string"}}}}],
  "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
  "stop_sequences": ["###"], "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stream": true,
  "metadata": {"user_id": "user-7"}, "thinking": {"type": "disabled"}
}"""

EXPECTED_CHAT_REQUEST = """{
  "model": "claude-sonnet-4-20250514",
  "messages": [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": [
      {"type": "text", "text": "What's the weather like in Beijing today?"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
      {"type": "image_url", "image_url": {"url": "https://example.com/sky.jpg"}}]},
    {"role": "assistant", "content": "Let me help you check the weather in Beijing.",
     "tool_calls": [{"id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "type": "function",
                     "function": {"name": "get_weather",
                                  "arguments": "{\\"location\\": \\"Beijing\\"}"}}]},
    {"role": "tool", "tool_call_id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "content": "15 degrees"},
    {"role": "user", "content": "And tomorrow?"}],
  "max_tokens": 1024, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stream": true,
  "stop": ["###"], "user": "user-7",
  "tools": [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a specified location",
    "parameters": {"type": "object", "required": ["location"],
                   "properties": {"location": {"type": "string"}}}}}],
  "tool_choice": "auto", "parallel_tool_calls": false
}"""


def test_anthropic_request_becomes_the_equivalent_chat_request() -> None:
    chat = messages_to_chat_request(json.loads(ANTHROPIC_REQUEST))
    assert chat == json.loads(EXPECTED_CHAT_REQUEST)
    validate("CreateChatCompletionRequest", chat)


def test_tool_results_come_right_after_the_assistant_turn_and_keep_errors() -> None:
    body = json.loads("""{"model": "m", "max_tokens": 5, "messages": [
      {"role": "user", "content": "go"},
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "a", "name": "f", "input": {}},
        {"type": "tool_use", "id": "b", "name": "g", "input": {"x": [1, "é"]}}]},
      {"role": "user", "content": [
        {"type": "text", "text": "here you are"},
        {"type": "tool_result", "tool_use_id": "a",
         "content": [{"type": "text", "text": "1"}, {"type": "text", "text": "2"}]},
        {"type": "tool_result", "tool_use_id": "b", "content": "boom", "is_error": true}]}]}""")
    messages = messages_to_chat_request(body)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert messages[1]["content"] is None
    assert json.loads(messages[1]["tool_calls"][1]["function"]["arguments"]) == {"x": [1, "é"]}
    assert messages[2] == {
        "role": "tool",
        "tool_call_id": "a",
        "content": [{"type": "text", "text": "1"}, {"type": "text", "text": "2"}],
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "b", "content": "Error: boom"}
    assert messages[4] == {"role": "user", "content": "here you are"}


@pytest.mark.parametrize(
    ("choice", "tool_choice"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_tool_choice_maps_to_openai(choice: Json, tool_choice: Any) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    chat = messages_to_chat_request({**body, "tool_choice": choice})
    assert chat["tool_choice"] == tool_choice
    assert "parallel_tool_calls" not in chat


def test_structured_output_and_system_role_messages_are_kept() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": "top",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "mid"}]},
        ],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    chat = messages_to_chat_request(body)
    assert chat["messages"][0] == {"role": "system", "content": "top"}
    assert chat["messages"][2] == {"role": "system", "content": "mid"}
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def _user(*blocks: str) -> str:
    return '{"messages": [{"role": "user", "content": [' + ", ".join(blocks) + "]}]}"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ('{"thinking": {"type": "enabled", "budget_tokens": 2048}}', "thinking"),
        ('{"service_tier": "auto"}', "service_tier"),
        ('{"max_tokens": null}', "max_tokens"),
        ('{"metadata": {"user_id": "u", "team": "x"}}', "metadata.team"),
        ('{"tools": [{"type": "web_search_20250305", "name": "web_search"}]}', "tools.0.type"),
        (
            '{"tools": [{"name": "f", "input_schema": {}, "input_examples": [{}]}]}',
            "tools.0.input_examples",
        ),
        ('{"tool_choice": {"type": "sometimes"}}', "tool_choice.type"),
        ('{"output_config": {"effort": "high"}}', "output_config.effort"),
        (_user('{"type": "document", "source": {}}'), "messages.0.content.0.type"),
        (
            _user('{"type": "image", "source": {"type": "file", "file_id": "f"}}'),
            "messages.0.content.0.source.type",
        ),
        (
            _user('{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image"}]}'),
            "messages.0.content.0.content.0.type",
        ),
        (
            '{"messages": [{"role": "assistant", "content": '
            '[{"type": "thinking", "thinking": "hm", "signature": "s"}]}]}',
            "messages.0.content.0.type",
        ),
        (
            _user('{"type": "text", "text": "hi", "citations": [{}]}'),
            "messages.0.content.0.citations",
        ),
        (_user(), "messages.0.content"),
        ('{"messages": [{"role": "robot", "content": "hi"}]}', "messages.0.role"),
    ],
)
def test_anthropic_features_without_an_openai_equivalent_are_refused(
    change: str, param: str
) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert _refused(messages_to_chat_request, {**body, **json.loads(change)}) == param


def test_cache_control_hints_are_accepted() -> None:
    ephemeral = {"type": "ephemeral"}
    text = {"type": "text", "text": "hi", "cache_control": ephemeral}
    tool = {"name": "f", "input_schema": {"type": "object"}, "cache_control": ephemeral}
    body = {
        "model": "m",
        "max_tokens": 5,
        "cache_control": ephemeral,
        "messages": [{"role": "user", "content": [text]}],
        "tools": [tool],
    }
    chat = messages_to_chat_request(body)
    assert chat["messages"] == [{"role": "user", "content": "hi"}]
    function = {"name": "f", "parameters": {"type": "object"}}
    assert chat["tools"] == [{"type": "function", "function": function}]


# --- OpenAI chat response -> Anthropic Message -------------------------------------------

# The "Functions" response example of OpenAI's spec (createChatCompletion).
OPENAI_TOOL_RESPONSE = """{
  "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1699896916,
  "model": "gpt-4o-mini",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
    {"id": "call_abc123", "type": "function", "function": {
      "name": "get_current_weather", "arguments": "{\\n\\"location\\": \\"Boston, MA\\"\\n}"}}]},
    "logprobs": null, "finish_reason": "tool_calls"}],
  "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
            "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}
}"""

EXPECTED_MESSAGE = """{
  "id": "msg_abc123", "type": "message", "role": "assistant", "model": "gpt-4o-mini",
  "content": [{"type": "tool_use", "id": "call_abc123", "name": "get_current_weather",
               "input": {"location": "Boston, MA"}}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 82, "output_tokens": 17}
}"""


def test_openai_completion_becomes_an_anthropic_message() -> None:
    message = chat_to_messages_response(json.loads(OPENAI_TOOL_RESPONSE), "gpt-4o-mini")
    assert message == json.loads(EXPECTED_MESSAGE)
    _validate_message(message)


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("tool_calls", "tool_use"),
        (None, "end_turn"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish_reason: str | None, stop_reason: str) -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    choice = {"message": {"role": "assistant", "content": "hi"}, "finish_reason": finish_reason}
    message = chat_to_messages_response({"id": "c", "choices": [choice], "usage": usage}, "m")
    assert message["stop_reason"] == stop_reason
    assert message["content"] == [{"type": "text", "text": "hi"}]
    assert message["usage"] == {"input_tokens": 6, "output_tokens": 2, "cache_read_input_tokens": 4}
    _validate_message(message)


def test_tool_calls_under_finish_reason_stop_still_stop_for_tool_use() -> None:
    chat = json.loads(OPENAI_TOOL_RESPONSE)
    chat["choices"][0]["finish_reason"] = "stop"
    assert chat_to_messages_response(chat, "m")["stop_reason"] == "tool_use"


def test_malformed_upstream_completions_raise_value_error() -> None:
    bad_arguments = json.loads(OPENAI_TOOL_RESPONSE)
    bad_arguments["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"a": '
    for chat in ({"id": "x", "choices": []}, bad_arguments):
        with pytest.raises(ValueError):
            chat_to_messages_response(chat, "m")


# --- OpenAI chat stream -> Anthropic stream ----------------------------------------------

# Text, then two parallel tool calls, then the usage chunk stream_options asks for.
OPENAI_STREAM = """
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Checking"},"finish_reason":null}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" both."},"finish_reason":null}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"location\\":"}}]},"finish_reason":null}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" \\"Paris\\"}"}}]},"finish_reason":null}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\\"location\\": \\"Rome\\"}"}}]},"finish_reason":null}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}
data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}
data: [DONE]
"""  # noqa: E501

EXPECTED_EVENTS = """\
event: message_start
data: {"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","model":"gpt-4o","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" both."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_1","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"Paris\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_2","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\": \\"Rome\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":30,"output_tokens":12}}

event: message_stop
data: {"type":"message_stop"}
"""  # noqa: E501


def _events(stream: ChatStreamToMessages, chunks: list[Json]) -> list[Event]:
    return [event for chunk in chunks for event in stream.feed(chunk)] + stream.finish()


def test_openai_stream_becomes_the_anthropic_event_sequence() -> None:
    stream = ChatStreamToMessages("gpt-4o", "msg_9")
    assert stream.usage is None
    assert _events(stream, _sse_data(OPENAI_STREAM)) == _sse_events(EXPECTED_EVENTS)
    assert stream.usage == (30, 12)


def test_the_anthropic_sdk_reads_the_translated_stream() -> None:
    anthropic = pytest.importorskip("anthropic")
    events = _events(ChatStreamToMessages("gpt-4o", "msg_9"), _sse_data(OPENAI_STREAM))
    event_type = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
    for name, data in events:
        assert event_type.validate_python(data).type == name
    sse = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    client = _mock_client(anthropic.Anthropic, sse.encode())
    hello = [{"role": "user", "content": "hi"}]
    with client.messages.stream(model="gpt-4o", max_tokens=50, messages=hello) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Checking both."
    assert [(b.type, getattr(b, "input", None)) for b in final.content] == [
        ("text", None),
        ("tool_use", {"location": "Paris"}),
        ("tool_use", {"location": "Rome"}),
    ]
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (30, 12)


def _chunk(delta: Json | None = None, finish: str | None = None, **extra: Any) -> Json:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c", "object": "chat.completion.chunk", "choices": choices, **extra}


def _call(index: int, args: str, call_id: str | None = None, name: str | None = None) -> Json:
    fragment: Json = {"index": index, "function": {"arguments": args}}
    if call_id:
        fragment.update(id=call_id, type="function")
        fragment["function"]["name"] = name
    return {"tool_calls": [fragment]}


def test_stream_edge_cases() -> None:
    empty = ChatStreamToMessages("m", "msg_1").finish()
    assert [name for name, _ in empty] == ["message_start", "message_delta", "message_stop"]
    assert empty[1][1]["delta"]["stop_reason"] == "end_turn"
    assert empty[1][1]["usage"] == {"output_tokens": 0}

    with pytest.raises(UpstreamStreamError, match="overloaded"):
        ChatStreamToMessages("m", "msg_1").feed({"error": {"message": "overloaded"}})

    interleaved = ChatStreamToMessages("m", "msg_1")
    interleaved.feed(_chunk(_call(0, "{", "a", "f")))
    interleaved.feed(_chunk(_call(1, "{", "b", "g")))
    with pytest.raises(ValueError):
        interleaved.feed(_chunk(_call(0, "}", "a", "f")))

    cut = ChatStreamToMessages("m", "msg_1")
    cut.feed(_chunk({"content": "cut"}, "length"))
    assert cut.finish()[-2][1]["delta"]["stop_reason"] == "max_tokens"


def _accumulate(events: list[Event]) -> Json:
    """Rebuild the Message from events, checking the order WIRE-NOTES describes."""
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    message: Json = copy.deepcopy(events[0][1]["message"])
    partial = ""
    open_index: int | None = None
    for name, data in events[1:]:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_index is None and data["index"] == len(message["content"])
            open_index, partial = data["index"], ""
            message["content"].append(copy.deepcopy(data["content_block"]))
        elif name == "content_block_delta":
            assert open_index is not None and data["index"] == open_index
            block, delta = message["content"][open_index], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                partial += delta["partial_json"]
        elif name == "content_block_stop":
            assert open_index is not None and data["index"] == open_index
            if message["content"][open_index]["type"] == "tool_use":
                message["content"][open_index]["input"] = json.loads(partial or "{}")
            open_index = None
        elif name == "message_delta":
            assert open_index is None
            message.update(data["delta"])
            message["usage"].update(data["usage"])
    return message


# --- OpenAI chat request -> Anthropic request --------------------------------------------

# OpenAI's "Functions" request example, continued with the calls, their results and images.
OPENAI_REQUEST = """{
  "model": "gpt-5.4",
  "messages": [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "system", "content": [{"type": "text", "text": "Use tools."}]},
    {"role": "user", "content": "What is the weather like in Boston today?"},
    {"role": "assistant", "content": null, "refusal": null, "annotations": [], "tool_calls": [
      {"id": "call_abc123", "type": "function", "function": {
        "name": "get_current_weather", "arguments": "{\\n\\"location\\": \\"Boston, MA\\"\\n}"}},
      {"id": "call_def456", "type": "function", "function": {
        "name": "get_current_weather", "arguments": ""}}]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "22 C"},
    {"role": "tool", "tool_call_id": "call_def456",
     "content": [{"type": "text", "text": "no location"}]},
    {"role": "user", "content": [
      {"type": "text", "text": "And these?"},
      {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ",
                                          "detail": "high"}},
      {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}],
  "tools": [{"type": "function", "function": {
    "name": "get_current_weather", "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "required": ["location"], "properties": {
      "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}],
  "tool_choice": "auto", "parallel_tool_calls": false, "max_completion_tokens": 300,
  "stop": "END", "temperature": 0.5, "user": "user-1", "stream": true,
  "stream_options": {"include_usage": true}, "n": 1
}"""

EXPECTED_ANTHROPIC_REQUEST = """{
  "model": "claude-sonnet-4-5", "max_tokens": 300,
  "system": [{"type": "text", "text": "Answer briefly."}, {"type": "text", "text": "Use tools."}],
  "messages": [
    {"role": "user", "content": "What is the weather like in Boston today?"},
    {"role": "assistant", "content": [
      {"type": "tool_use", "id": "call_abc123", "name": "get_current_weather",
       "input": {"location": "Boston, MA"}},
      {"type": "tool_use", "id": "call_def456", "name": "get_current_weather", "input": {}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "call_abc123", "content": "22 C"},
      {"type": "tool_result", "tool_use_id": "call_def456",
       "content": [{"type": "text", "text": "no location"}]},
      {"type": "text", "text": "And these?"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                   "data": "/9j/4AAQ"}},
      {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}],
  "temperature": 0.5, "stream": true, "stop_sequences": ["END"],
  "metadata": {"user_id": "user-1"},
  "tools": [{"name": "get_current_weather",
             "description": "Get the current weather in a given location",
             "input_schema": {"type": "object", "required": ["location"], "properties": {
               "location": {"type": "string",
                            "description": "The city and state, e.g. San Francisco, CA"},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}],
  "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}
}"""


def test_openai_request_becomes_the_equivalent_anthropic_request() -> None:
    body = json.loads(OPENAI_REQUEST)
    validate("CreateChatCompletionRequest", body)
    request = chat_to_messages_request(body, "claude-sonnet-4-5", 4096)
    assert request == json.loads(EXPECTED_ANTHROPIC_REQUEST)


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_maps_to_anthropic(tool_choice: Any, expected: Json) -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": tool_choice,
    }
    request = chat_to_messages_request(body, "claude", 100)
    assert request["tool_choice"] == expected
    assert request["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert request["max_tokens"] == 100


def test_consecutive_messages_of_one_role_are_merged_and_empty_text_skipped() -> None:
    schema = {"type": "object"}
    body = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b"}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
        ],
        "max_tokens": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    request = chat_to_messages_request(body, "claude", 100)
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": t} for t in "abc"]},
        {"role": "assistant", "content": "no"},
    ]
    assert request["max_tokens"] == 7
    assert request["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


def _message(message: str) -> str:
    return '{"messages": [' + message + "]}"


def _calling(arguments: str) -> str:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return _message(json.dumps({"role": "assistant", "tool_calls": [call]}))


def _image(url: str) -> str:
    part = {"type": "image_url", "image_url": {"url": url}}
    return _message(json.dumps({"role": "user", "content": [part]}))


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ('{"n": 2}', "n"),
        ('{"logprobs": true}', "logprobs"),
        ('{"top_logprobs": 3}', "top_logprobs"),
        ('{"presence_penalty": 0.5}', "presence_penalty"),
        ('{"frequency_penalty": -1}', "frequency_penalty"),
        ('{"seed": 7}', "seed"),
        ('{"logit_bias": {"50256": -100}}', "logit_bias"),
        ('{"temperature": 1.5}', "temperature"),
        ('{"reasoning_effort": "high"}', "reasoning_effort"),
        ('{"response_format": {"type": "json_object"}}', "response_format"),
        (
            '{"response_format": {"type": "json_schema",'
            ' "json_schema": {"name": "x", "description": "d", "schema": {}}}}',
            "response_format.json_schema.description",
        ),
        ('{"tool_choice": {"type": "allowed_tools", "allowed_tools": {}}}', "tool_choice"),
        ('{"tools": [{"type": "custom", "custom": {"name": "x"}}]}', "tools.0.type"),
        (_message('{"role": "user", "content": "hi", "name": "bob"}'), "messages.0.name"),
        (
            _message('{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}'),
            "messages.0.content.0.type",
        ),
        (_image("data:application/pdf;base64,JVBER"), "messages.0.content.0.image_url.url"),
        (_image("ftp://example.com/y.png"), "messages.0.content.0.image_url.url"),
        (_message('{"role": "function", "name": "f", "content": "1"}'), "messages.0.role"),
        (_calling("{oops"), "messages.0.tool_calls.0.function.arguments"),
        (_calling("[1]"), "messages.0.tool_calls.0.function.arguments"),
        (
            _message('{"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}'),
            "messages.0.function_call",
        ),
        (_message('{"role": "system", "content": "only a system prompt"}'), "messages"),
    ],
)
def test_openai_features_without_an_anthropic_equivalent_are_refused(
    change: str, param: str
) -> None:
    body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], **json.loads(change)}
    assert _refused(chat_to_messages_request, body, "claude", 100) == param


def test_neutral_values_of_unsupported_options_are_accepted() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        **{
            "n": 1,
            "logprobs": False,
            "presence_penalty": 0,
            "frequency_penalty": 0.0,
            "seed": None,
        },
        **{"store": False, "metadata": {"a": "b"}, "response_format": {"type": "text"}},
    }
    assert chat_to_messages_request(body, "claude", 100) == {
        "model": "claude",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }


# --- Anthropic Message -> OpenAI chat.completion -----------------------------------------

# A recorded Anthropic tool-use response.
ANTHROPIC_MESSAGE = """{
  "content": [
    {"text": "Let me help you check the weather in Beijing.", "type": "text"},
    {"id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "input": {"location": "Beijing"},
     "name": "get_weather", "type": "tool_use"}],
  "id": "msg_0195XjbG2FGZfN7Dqkd9kyyW", "model": "claude-sonnet-4-20250514",
  "role": "assistant", "stop_reason": "tool_use", "stop_sequence": null, "type": "message",
  "usage": {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "input_tokens": 478, "output_tokens": 71, "service_tier": "standard"}
}"""

EXPECTED_COMPLETION = """{
  "id": "chatcmpl-0195XjbG2FGZfN7Dqkd9kyyW", "object": "chat.completion",
  "model": "claude-sonnet-4",
  "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls", "message": {
    "role": "assistant", "content": "Let me help you check the weather in Beijing.",
    "refusal": null, "tool_calls": [{"id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\\"location\\": \\"Beijing\\"}"}}]}}],
  "usage": {"prompt_tokens": 478, "completion_tokens": 71, "total_tokens": 549,
            "prompt_tokens_details": {"cached_tokens": 0}}
}"""


def test_anthropic_message_becomes_an_openai_completion() -> None:
    completion = messages_to_chat_response(json.loads(ANTHROPIC_MESSAGE), "claude-sonnet-4")
    validate("CreateChatCompletionResponse", completion)
    assert isinstance(completion.pop("created"), int)
    assert completion == json.loads(EXPECTED_COMPLETION)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str, finish_reason: str) -> None:
    thinking = {"type": "thinking", "thinking": "hidden", "signature": "s"}
    usage = {"input_tokens": 5, "output_tokens": 3}
    usage |= {"cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}
    message = {
        "id": "msg_1",
        "content": [thinking, {"type": "text", "text": "hi"}],
        "stop_reason": stop_reason,
        "usage": usage,
    }
    completion = messages_to_chat_response(message, "m")
    assert completion["choices"][0]["finish_reason"] == finish_reason
    assert completion["choices"][0]["message"]["content"] == "hi"
    assert completion["usage"] == {
        "prompt_tokens": 125,
        "completion_tokens": 3,
        "total_tokens": 128,
        "prompt_tokens_details": {"cached_tokens": 100},
    }


# --- Anthropic stream -> OpenAI chat stream ----------------------------------------------

# anthropic-sdk-python tests/lib/streaming/fixtures/tool_use_response.txt, verbatim.
ANTHROPIC_STREAM = """\
event: message_start
data: {"type":"message_start","message":{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'ll check the current weather in Paris for you."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01NRLabsLyVHZPKxbKvkfSMn","name":"get_weather","caller":{"type":"direct"},"input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"locati"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"on\\": \\"P"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ar"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":65}}

event: message_stop
data: {"type":"message_stop"}
"""  # noqa: E501

# The deltas and finish reasons of the chunks it becomes (the usage-only chunk follows).
EXPECTED_DELTAS = """
[{"role": "assistant", "content": ""}, null]
[{"content": "I"}, null]
[{"content": "'ll check the current weather in Paris for you."}, null]
[{"tool_calls": [{"index": 0, "id": "toolu_01NRLabsLyVHZPKxbKvkfSMn", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, null]
[{"tool_calls": [{"index": 0, "function": {"arguments": "{\\"locati"}}]}, null]
[{"tool_calls": [{"index": 0, "function": {"arguments": "on\\": \\"P"}}]}, null]
[{"tool_calls": [{"index": 0, "function": {"arguments": "ar"}}]}, null]
[{"tool_calls": [{"index": 0, "function": {"arguments": "is\\"}"}}]}, null]
[{}, "tool_calls"]
"""  # noqa: E501


def _chunks(stream: MessagesStreamToChat, events: list[Event]) -> list[Json]:
    return [chunk for name, data in events for chunk in stream.feed(name, data)]


def test_anthropic_stream_becomes_openai_chunks() -> None:
    stream = MessagesStreamToChat("claude-sonnet-4", "chatcmpl-7", include_usage=True)
    chunks = _chunks(stream, _sse_events(ANTHROPIC_STREAM))
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    assert all(c["id"] == "chatcmpl-7" and c["model"] == "claude-sonnet-4" for c in chunks)
    deltas = [[c["choices"][0]["delta"], c["choices"][0]["finish_reason"]] for c in chunks[:-1]]
    assert deltas == [json.loads(line) for line in EXPECTED_DELTAS.strip().splitlines()]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 377,
        "completion_tokens": 65,
        "total_tokens": 442,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    assert stream.usage == (377, 65)


def test_the_openai_sdk_reads_the_translated_stream() -> None:
    openai = pytest.importorskip("openai")
    stream = MessagesStreamToChat("claude", "chatcmpl-7", include_usage=True)
    chunks = _chunks(stream, _sse_events(ANTHROPIC_STREAM))
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    client = _mock_client(openai.OpenAI, body.encode())
    hello = [{"role": "user", "content": "hi"}]
    with client.chat.completions.stream(model="claude", messages=hello) as events:
        final = events.get_final_completion()
    message = final.choices[0].message
    assert message.role == "assistant"
    assert message.content == "I'll check the current weather in Paris for you."
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather", '{"location": "Paris"}')
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.total_tokens == 442


def test_anthropic_stream_without_usage_and_with_errors() -> None:
    stream = MessagesStreamToChat("claude", "chatcmpl-7", include_usage=False)
    assert stream.usage is None
    first = stream.feed(*_sse_events(ANTHROPIC_STREAM)[0])
    assert stream.usage == (377, 1)
    assert stream.feed("ping", {"type": "ping"}) == []
    last = stream.feed("message_stop", {"type": "message_stop"})
    assert all("usage" not in chunk for chunk in first + last)
    assert last[0]["choices"][0]["finish_reason"] == "stop"
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(UpstreamStreamError, match="Overloaded"):
        stream.feed("error", error)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (409, "invalid_request_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_bodies_carry_the_documented_type(status: int, kind: str) -> None:
    assert anthropic_error_type(status) == kind
    body = error_body(status, "no such model", "req_1")
    error = {"type": kind, "message": "no such model"}
    assert body == {"type": "error", "error": error, "request_id": "req_1"}
    anthropic = pytest.importorskip("anthropic")
    if kind != "request_too_large":  # documented, but absent from the SDK's ErrorObject union
        anthropic.types.ErrorResponse.model_validate(body)


# --- round trips and properties ----------------------------------------------------------


def _blocks(content: Any) -> list[Json]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _normalized(request: Json) -> Json:
    system = request.get("system")
    messages = [{"role": m["role"], "content": _blocks(m["content"])} for m in request["messages"]]
    return {
        "system": _blocks(system) if system else [],
        "messages": messages,
        "tools": request.get("tools", []),
    }


def test_anthropic_request_survives_a_round_trip_through_chat() -> None:
    body = json.loads(ANTHROPIC_REQUEST)
    back = chat_to_messages_request(messages_to_chat_request(body), body["model"], 1)
    expected = _normalized(body)
    expected["system"][0].pop("cache_control")
    assert _normalized(back) == expected
    kept = ("max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "stream")
    for key in ("tool_choice", *kept):
        assert back[key] == body[key]


_TEXT = st.text(min_size=1, max_size=12)
_NAME = st.from_regex(r"[a-z][a-z_]{0,9}", fullmatch=True)
_ARGS = st.dictionaries(_NAME, st.one_of(st.integers(), _TEXT, st.booleans()), max_size=3)


@st.composite
def anthropic_requests(draw: st.DrawFn) -> Json:
    """Alternating turns; assistants may call tools, the next user turn answers every call."""
    names = draw(st.lists(_NAME, min_size=1, max_size=3, unique=True))
    messages: list[Json] = []
    pending: list[str] = []
    for turn in range(draw(st.integers(1, 4))):
        texts = [{"type": "text", "text": t} for t in draw(st.lists(_TEXT, max_size=2))]
        results = [
            {"type": "tool_result", "tool_use_id": i, "content": draw(_TEXT)} for i in pending
        ]
        user: list[Json] | str = results + texts or draw(_TEXT)
        messages.append({"role": "user", "content": user})
        pending = [f"toolu_{turn}_{k}" for k in range(draw(st.integers(0, 2)))]
        calls = [
            {
                "type": "tool_use",
                "id": i,
                "name": draw(st.sampled_from(names)),
                "input": draw(_ARGS),
            }
            for i in pending
        ]
        replies = [{"type": "text", "text": t} for t in draw(st.lists(_TEXT, max_size=2))]
        assistant: list[Json] | str = replies + calls or draw(_TEXT)
        messages.append({"role": "assistant", "content": assistant})
    tools = [
        {"name": n, "description": draw(_TEXT), "input_schema": {"type": "object"}} for n in names
    ]
    body = {"model": "claude", "max_tokens": 64, "messages": messages, "tools": tools}
    if draw(st.booleans()):
        body["system"] = draw(_TEXT)
    return body


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content or [] if part.get("type") == "text"]


@settings(max_examples=150, deadline=None)
@given(anthropic_requests())
def test_property_anthropic_to_chat_keeps_text_tools_and_ids(body: Json) -> None:
    chat = messages_to_chat_request(copy.deepcopy(body))
    chat_texts = [t for m in chat["messages"] for t in _texts(m.get("content"))]
    for message in body["messages"]:
        blocks = _blocks(message["content"])
        for text in _texts(blocks) + [b["content"] for b in blocks if b["type"] == "tool_result"]:
            assert text in chat_texts
    assert [t["function"]["name"] for t in chat["tools"]] == [t["name"] for t in body["tools"]]
    sent = [b for m in body["messages"] for b in _blocks(m["content"]) if b["type"] == "tool_use"]
    calls = [c for m in chat["messages"] for c in m.get("tool_calls", [])]
    called = [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
    ]
    assert called == [(b["id"], b["name"], b["input"]) for b in sent]
    roles = [m["role"] for m in chat["messages"]]
    assert all(b != "tool" or a in ("assistant", "tool") for a, b in itertools.pairwise(roles))
    answered = [m["tool_call_id"] for m in chat["messages"] if m["role"] == "tool"]
    assert answered == [c["id"] for c in calls[: len(answered)]]
    back = chat_to_messages_request(chat, "claude", 1)
    assert _normalized(back) == _normalized(body)


@st.composite
def chat_requests(draw: st.DrawFn) -> Json:
    """OpenAI conversations with system prompts, parts, parallel tool calls and results."""
    names = draw(st.lists(_NAME, min_size=1, max_size=3, unique=True))
    messages: list[Json] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(_TEXT)}
        )
    for turn in range(draw(st.integers(1, 4))):
        parts = draw(st.lists(_TEXT, min_size=1, max_size=2))
        content = parts[0] if len(parts) == 1 else [{"type": "text", "text": t} for t in parts]
        messages.append({"role": "user", "content": content})
        calls = [
            {
                "id": f"call_{turn}_{k}",
                "type": "function",
                "function": {
                    "name": draw(st.sampled_from(names)),
                    "arguments": json.dumps(draw(_ARGS)),
                },
            }
            for k in range(draw(st.integers(0, 2)))
        ]
        text = draw(st.one_of(st.none(), _TEXT)) if calls else draw(_TEXT)
        messages.append(
            {"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})}
        )
        messages += [
            {"role": "tool", "tool_call_id": c["id"], "content": draw(_TEXT)} for c in calls
        ]
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in names
    ]
    return {"model": "gpt", "messages": messages, "tools": tools}


@settings(max_examples=150, deadline=None)
@given(chat_requests())
def test_property_chat_to_anthropic_keeps_text_tools_and_ids(body: Json) -> None:
    request = chat_to_messages_request(copy.deepcopy(body), "claude", 256)
    blocks = [b for m in request["messages"] for b in _blocks(m["content"])]
    kept = [b["text"] for b in request.get("system", [])] + _texts(blocks)
    kept += [b["content"] for b in blocks if b["type"] == "tool_result"]
    for message in body["messages"]:
        for text in _texts(message.get("content")):
            assert text in kept
    assert [t["name"] for t in request["tools"]] == [t["function"]["name"] for t in body["tools"]]
    calls = [c for m in body["messages"] for c in m.get("tool_calls", [])]
    uses = [(b["id"], b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"]
    assert uses == [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
    ]
    results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
    assert results == [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    roles = [m["role"] for m in request["messages"]]
    assert all(a != b for a, b in itertools.pairwise(roles))


def _split(draw: Any, text: str) -> list[str]:
    """`text` cut at up to three random places."""
    cuts = sorted(draw(st.sets(st.integers(1, max(len(text) - 1, 1)), max_size=3)))
    return [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)]) if text[a:b]]


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, Json]]]:
    text = draw(st.text(max_size=30))
    calls = [(f"call_{k}", draw(_NAME), draw(_ARGS)) for k in range(draw(st.integers(0, 3)))]
    return text, calls


@settings(max_examples=150, deadline=None)
@given(answers(), st.data())
def test_property_chat_stream_rebuilds_the_unstreamed_message(
    answer: Any, data: st.DataObject
) -> None:
    text, calls = answer
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": piece}) for piece in _split(data.draw, text)]
    for k, (call_id, name, args) in enumerate(calls):
        pieces = _split(data.draw, json.dumps(args)) or [""]
        chunks.append(_chunk(_call(k, pieces[0], call_id, name)))
        chunks += [_chunk(_call(k, piece)) for piece in pieces[1:]]
    finish = "tool_calls" if calls else "stop"
    usage = {"prompt_tokens": 9, "completion_tokens": 4}
    chunks += [_chunk({}, finish), _chunk(None, usage=usage)]
    streamed = _accumulate(_events(ChatStreamToMessages("m", "msg_x"), chunks))
    tool_calls = [
        {"id": i, "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in calls
    ]
    message = {"role": "assistant", "content": text or None, "tool_calls": tool_calls}
    whole = {"id": "x", "choices": [{"message": message, "finish_reason": finish}], "usage": usage}
    expected = chat_to_messages_response(whole, "m")
    for key in ("content", "stop_reason", "usage", "model"):
        assert streamed[key] == expected[key]


def _anthropic_events(draw: Any, blocks: list[Json], stop_reason: str) -> list[Event]:
    """A stream for `blocks`, text and tool input cut into random deltas."""
    usage = {"input_tokens": 9, "output_tokens": 1, "cache_read_input_tokens": 3}
    events: list[Event] = [("message_start", {"message": {"usage": usage}})]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start = {**block, "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _split(draw, block["text"])]
        else:
            start = {**block, "input": {}}
            pieces = _split(draw, json.dumps(block["input"]))
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        events.append(("content_block_start", {"index": index, "content_block": start}))
        events += [("content_block_delta", {"index": index, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"index": index}))
    delta = {"delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 4}}
    return [*events, ("message_delta", delta), ("message_stop", {})]


@settings(max_examples=150, deadline=None)
@given(answers(), st.data())
def test_property_anthropic_stream_rebuilds_the_unstreamed_completion(
    answer: Any, data: st.DataObject
) -> None:
    text, calls = answer
    blocks: list[Json] = [{"type": "text", "text": text}] if text else []
    blocks += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
    stop_reason = "tool_use" if calls else "end_turn"
    events = _anthropic_events(data.draw, blocks, stop_reason)
    chunks = _chunks(MessagesStreamToChat("m", "chatcmpl-x", include_usage=True), events)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert [i for i, delta in enumerate(deltas) if "role" in delta] == [0]
    rebuilt: dict[int, Json] = {}
    for fragment in [f for delta in deltas for f in delta.get("tool_calls", [])]:
        call = rebuilt.setdefault(fragment["index"], {"arguments": ""})
        assert ("id" in fragment) == ("id" not in call), "id only in the first fragment"
        call.update({key: fragment[key] for key in ("id", "type") if key in fragment})
        call["name"] = fragment["function"].get("name", call.get("name"))
        call["arguments"] += fragment["function"]["arguments"]
    usage = events[0][1]["message"]["usage"] | {"output_tokens": 4}
    message = {"id": "msg_x", "content": blocks, "stop_reason": stop_reason, "usage": usage}
    whole = messages_to_chat_response(message, "m")
    expected = whole["choices"][0]
    assert "".join(d.get("content") or "" for d in deltas) == (expected["message"]["content"] or "")
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in rebuilt.values()] == [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in expected["message"].get("tool_calls", [])
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == expected["finish_reason"]
    assert chunks[-1]["usage"] == whole["usage"]

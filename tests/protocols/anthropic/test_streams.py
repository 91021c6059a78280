"""Streams both ways, read back by the official SDKs, and property tests that a stream
rebuilds its unstreamed twin.

Recorded examples are kept as wire text (SSE streams) so they read as sent."""

import copy
import itertools
import json
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.protocols.anthropic import (
    ChatStreamToMessages,
    MessagesStreamToChat,
    chat_to_messages_response,
    messages_to_chat_response,
)
from gatewayz.protocols.anthropic.signature import Reasoning, read
from gatewayz.protocols.openai_chat import UpstreamStreamError
from tests.openai_spec import validate
from tests.protocols.anthropic.helpers import (
    ARGS,
    NAME,
    Event,
    Json,
    mock_client,
    sse_data,
    sse_events,
)

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
    assert _events(stream, sse_data(OPENAI_STREAM)) == sse_events(EXPECTED_EVENTS)
    assert stream.usage == (30, 12)


def test_the_anthropic_sdk_reads_the_translated_stream() -> None:
    anthropic = pytest.importorskip("anthropic")
    events = _events(ChatStreamToMessages("gpt-4o", "msg_9"), sse_data(OPENAI_STREAM))
    event_type = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
    for name, data in events:
        assert event_type.validate_python(data).type == name
    sse = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    client = mock_client(anthropic.Anthropic, sse.encode())
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
    chunks = _chunks(stream, sse_events(ANTHROPIC_STREAM))
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
    chunks = _chunks(stream, sse_events(ANTHROPIC_STREAM))
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    client = mock_client(openai.OpenAI, body.encode())
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
    first = stream.feed(*sse_events(ANTHROPIC_STREAM)[0])
    assert stream.usage == (377, 1)
    assert stream.feed("ping", {"type": "ping"}) == []
    last = stream.feed("message_stop", {"type": "message_stop"})
    assert all("usage" not in chunk for chunk in first + last)
    assert last[0]["choices"][0]["finish_reason"] == "stop"
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(UpstreamStreamError, match="Overloaded"):
        stream.feed("error", error)


# --- properties --------------------------------------------------------------------------


def _split(draw: Any, text: str) -> list[str]:
    """`text` cut at up to three random places."""
    cuts = sorted(draw(st.sets(st.integers(1, max(len(text) - 1, 1)), max_size=3)))
    return [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)]) if text[a:b]]


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, Json]]]:
    text = draw(st.text(max_size=30))
    calls = [(f"call_{k}", draw(NAME), draw(ARGS)) for k in range(draw(st.integers(0, 3)))]
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


def test_thinking_streams_as_reasoning_content_and_its_signature_not_at_all() -> None:
    stream = MessagesStreamToChat("claude", "chatcmpl-7", include_usage=False)
    block = {"type": "thinking", "thinking": "", "signature": ""}
    events: list[Event] = [
        ("message_start", {"message": {"usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ("content_block_start", {"index": 0, "content_block": block}),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm"}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
        ),
        ("content_block_stop", {"index": 0}),
    ]
    chunks = _chunks(stream, events)
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Hm"},
    ]


# --- reasoning and thinking, JSON mode, the input tokens message_start reports ------------

REASONING_STREAM = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"reasoning_content": "Think "}),
    _chunk({"reasoning_content": "twice."}),
    _chunk({"content": "Hi."}),
    _chunk({}, "stop"),
    _chunk(None, usage={"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}),
]


def _sdk_final(events: list[Event]) -> Any:
    anthropic = pytest.importorskip("anthropic")
    event_type = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
    for name, data in events:
        assert event_type.validate_python(data).type == name
    sse = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    client = mock_client(anthropic.Anthropic, sse.encode())
    hello = [{"role": "user", "content": "hi"}]
    with client.messages.stream(model="m", max_tokens=50, messages=hello) as stream:
        return stream.get_final_message()


def test_reasoning_streams_as_a_thinking_block_the_gateway_signs() -> None:
    events = _events(ChatStreamToMessages("m", "msg_1", 17, "deepseek"), REASONING_STREAM)
    blocks = [e for e in events if e[0].startswith("content_block")]
    assert [(name, data.get("delta", {}).get("type")) for name, data in blocks] == [
        ("content_block_start", None),
        ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "signature_delta"),
        ("content_block_stop", None),
        ("content_block_start", None),
        ("content_block_delta", "text_delta"),
        ("content_block_stop", None),
    ]
    assert blocks[0][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    signature = blocks[3][1]["delta"]["signature"]
    assert read(signature) == Reasoning("deepseek", "reasoning_content", "Think twice.")
    final = _sdk_final(events)
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Think twice."
    assert final.content[0].signature == signature
    assert final.stop_reason == "end_turn"


def test_omitted_thinking_keeps_its_text_in_the_signature_only() -> None:
    stream = ChatStreamToMessages("m", "msg_1", 17, "vllm", show_thinking=False)
    chunks = [_chunk({"reasoning": "Hidden."}), _chunk({"content": "Hi."}), _chunk({}, "stop")]
    events = _events(stream, chunks)
    assert not [e for e in events if e[1].get("delta", {}).get("type") == "thinking_delta"]
    final = _sdk_final(events)
    assert final.content[0].thinking == ""
    assert read(final.content[0].signature) == Reasoning("vllm", "reasoning", "Hidden.")


def test_message_start_estimates_the_input_and_message_delta_says_it_exactly() -> None:
    events = _events(ChatStreamToMessages("m", "msg_1", 17, "p"), REASONING_STREAM)
    assert events[0][1]["message"]["usage"]["input_tokens"] == 17
    assert events[-2][1]["usage"] == {"input_tokens": 40, "output_tokens": 9}
    final = _sdk_final(events)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (40, 9)


JSON_MODE_STREAM = """
event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"json_answer","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\": "}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"1}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":6}}

event: message_stop
data: {"type":"message_stop"}
"""  # noqa: E501


def test_json_mode_tool_call_streams_as_the_answer_text() -> None:
    stream = MessagesStreamToChat(
        "claude", "chatcmpl-7", include_usage=False, json_tool="json_answer"
    )
    chunks = _chunks(stream, sse_events(JSON_MODE_STREAM.strip()))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == '{"a": 1}'
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    other = MessagesStreamToChat("claude", "chatcmpl-7", include_usage=False)
    chunks = _chunks(other, sse_events(JSON_MODE_STREAM.strip()))
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_cache_tokens_stream_as_they_are_answered_whole_both_ways() -> None:
    """message_start carries the cache reads and writes (with the writes' split), the final
    message_delta the cumulative counts (without the split): the final usage is the unary one."""
    start_usage = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400},
        "output_tokens": 1,
    }
    final = {**start_usage, "output_tokens": 7}
    final.pop("cache_creation")
    translator = MessagesStreamToChat("m", "chatcmpl-1", include_usage=True)
    translator.feed("message_start", {"message": {"usage": start_usage}})
    translator.feed("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": final})
    (*_, usage_chunk) = translator.feed("message_stop", {})
    unary = messages_to_chat_response({"content": [], "usage": {**start_usage, **final}}, "m")
    assert usage_chunk["usage"] == unary["usage"]
    assert usage_chunk["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 2000,
        "cache_write_tokens": 1000,
        "cache_write_1h_tokens": 400,
    }

    back = ChatStreamToMessages("m", "msg_1")
    back.feed({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]})
    back.feed({"choices": [], "usage": usage_chunk["usage"]})
    message_delta = next(data for name, data in back.finish() if name == "message_delta")
    choice = {"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    whole = chat_to_messages_response({"choices": [choice], "usage": usage_chunk["usage"]}, "m")
    assert message_delta["usage"] == whole["usage"]
    assert message_delta["usage"]["cache_creation"] == start_usage["cache_creation"]
    assert message_delta["usage"]["input_tokens"] == 50

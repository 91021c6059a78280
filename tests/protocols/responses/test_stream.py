"""A chat completion stream as Responses stream events, read by the SDK's accumulator, and
a property test that a stream ends as its unstreamed twin."""

import json

import httpx2
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.protocols.responses import (
    ChatStreamToResponses,
    chat_to_response,
    responses_to_chat_request,
)
from tests.protocols.responses.helpers import (
    CREATED_AT,
    IDS,
    RESPONSE_ID,
    WEATHER,
    check_events,
    chunk,
    completion,
    run_stream,
    sdk_client,
    sse,
    stream_chunks,
)


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


@settings(max_examples=60, deadline=None)
@given(
    thoughts=st.lists(st.text(min_size=1, max_size=6), max_size=3),
    pieces=st.lists(st.text(min_size=1, max_size=6), max_size=5),
    calls=st.lists(
        st.tuples(IDS, st.lists(st.text(min_size=1, max_size=6), max_size=4)), max_size=3
    ),
    finish_reason=st.sampled_from(["stop", "tool_calls", "length", "content_filter"]),
)
def test_a_stream_ends_as_its_unstreamed_twin(
    thoughts: list[str], pieces: list[str], calls: list[tuple[str, list[str]]], finish_reason: str
) -> None:
    request = {"model": "m", "input": "hi"}
    tool_calls = [(f"call_{n}", name, fragments) for n, (name, fragments) in enumerate(calls)]
    events = run_stream(request, stream_chunks(pieces, tool_calls, finish_reason, thoughts))
    emitted = check_events(events)
    answer = completion(
        "".join(pieces) or None,
        [(i, n, "".join(f)) for i, n, f in tool_calls],
        finish_reason,
        reasoning="".join(thoughts) or None,
    )
    assert events[-1]["response"] == chat_to_response(answer, request, RESPONSE_ID, CREATED_AT)
    assert emitted[-1].response.output_text == "".join(pieces)
    arguments = {
        e.item_id: e.snapshot for e in emitted if e.type == "response.function_call_arguments.delta"
    }
    assert arguments == {f"fc_0123abcd_{n}": "".join(f) for n, (_, f) in enumerate(calls) if f}
    summaries = [e.text for e in emitted if e.type == "response.reasoning_summary_text.done"]
    assert summaries == (["".join(thoughts)] if thoughts else [])


# --- reasoning -----------------------------------------------------------------------------

# OpenAI's order for a reasoning model's streamed answer with a summary (the Responses API
# reference and the SDK's event types): the reasoning item closes before the message opens.
NATIVE_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
    "response.output_item.done",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def test_streamed_reasoning_is_a_reasoning_item_with_its_summary() -> None:
    request = {"model": "m", "input": "hi", "reasoning": {"summary": "auto"}}
    events = run_stream(request, stream_chunks(["Hi."], thoughts=["Think", "ing."]))
    emitted = check_events(events)
    assert [e["type"] for e in events] == NATIVE_ORDER
    added = events[2]
    assert added["item"] == {"id": "rs_0123abcd", "type": "reasoning", "summary": []}
    where = {"item_id": "rs_0123abcd", "output_index": 0, "summary_index": 0}
    assert events[3] == {
        "type": "response.reasoning_summary_part.added",
        "sequence_number": 3,
        **where,
        "part": {"type": "summary_text", "text": ""},
    }
    assert [e["delta"] for e in events[4:6]] == ["Think", "ing."]
    assert events[6]["text"] == events[7]["part"]["text"] == "Thinking."
    reasoning = {
        "id": "rs_0123abcd",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Thinking."}],
    }
    assert events[8]["item"] == reasoning
    assert events[9]["output_index"] == 1  # the message comes after the reasoning
    final = emitted[-1].response
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output_text == "Hi."
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 4
    assert events[-1]["response"] == chat_to_response(
        completion("Hi.", reasoning="Thinking."), request, RESPONSE_ID, CREATED_AT
    )


def test_reasoning_in_the_reasoning_field_and_resumed_after_text() -> None:
    """Some OpenAI-compatible upstreams send `reasoning`; reasoning that resumes once the
    answer started is a second reasoning item (the message stays open)."""
    chunks = [
        chunk({"role": "assistant", "reasoning": "First."}),
        chunk({"content": "Partly"}),
        chunk({"reasoning": "Second."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f"}}]}),
        chunk(finish_reason="tool_calls"),
    ]
    events = run_stream({"model": "m", "input": "hi", "tools": [WEATHER]}, chunks)
    check_events(events)
    output = events[-1]["response"]["output"]
    assert [(item["type"], item["id"]) for item in output] == [
        ("reasoning", "rs_0123abcd"),
        ("message", "msg_0123abcd"),
        ("reasoning", "rs_0123abcd_1"),
        ("function_call", "fc_0123abcd_0"),
    ]
    assert [item["summary"][0]["text"] for item in output if item["type"] == "reasoning"] == [
        "First.",
        "Second.",
    ]
    done = [e["output_index"] for e in events if e["type"] == "response.output_item.done"]
    assert done == [0, 2, 1, 3]  # each reasoning item closes when the answer resumes


def test_a_failure_mid_reasoning_keeps_what_was_reasoned() -> None:
    stream = ChatStreamToResponses({"model": "m", "input": "hi"}, RESPONSE_ID, CREATED_AT)
    events = stream.feed(chunk({"role": "assistant", "reasoning_content": "Hmm"}))
    events += stream.fail("upstream closed the connection")
    emitted = check_events(events)
    (item,) = emitted[-1].response.output
    assert item.type == "reasoning" and item.summary[0].text == "Hmm"

"""What the codecs of native streams count toward an estimate: every kind of generated text
(recorded event shapes of the Anthropic Messages and OpenAI Responses streams)."""

import orjson

from gatewayz.protocols.usage import Usage
from gatewayz.relay.messages import _error_event as messages_error
from gatewayz.relay.messages import _NativeUsage, message_usage
from gatewayz.relay.responses import _error_event as responses_error
from gatewayz.relay.responses import _inspect, response_usage
from gatewayz.relay.translated import PassthroughCodec


def _feed(codec: PassthroughCodec, events: list[tuple[str, dict[str, object]]]) -> None:
    for name, data in events:
        codec.convert((name, orjson.dumps({"type": name, **data})))


def test_anthropic_text_thinking_and_tool_input_count_and_signatures_do_not() -> None:
    codec = PassthroughCodec(_NativeUsage(), messages_error)
    usage = {"input_tokens": 100, "cache_read_input_tokens": 20, "output_tokens": 1}
    _feed(
        codec,
        [
            ("message_start", {"message": {"usage": usage}}),
            ("content_block_start", {"index": 0, "content_block": {"type": "thinking"}}),
            ("content_block_delta", {"delta": {"type": "thinking_delta", "thinking": "Hmm"}}),
            ("content_block_delta", {"delta": {"type": "signature_delta", "signature": "x" * 99}}),
            ("content_block_start", {"content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"delta": {"type": "text_delta", "text": "Hi"}}),
            ("content_block_start", {"content_block": {"type": "tool_use", "name": "search"}}),
            ("content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": "{}"}}),
            ("ping", {}),
        ],
    )
    assert (codec.tally.pieces, codec.tally.text_bytes) == (4, 3 + 2 + 6 + 2)
    # The input side message_start reported is kept; the output is estimated.
    # (The 20 tokens read from the cache stay their own kind, priced as such.)
    assert codec.tally.usage(10**6) == Usage(120, 4, estimated=True, cache_read_tokens=20)
    _feed(codec, [("message_delta", {"delta": {}, "usage": {"output_tokens": 42}})])
    assert codec.tally.usage(10**6) == Usage(120, 42, cache_read_tokens=20)


def test_responses_text_refusals_reasoning_and_tool_input_count() -> None:
    codec = PassthroughCodec(_inspect, responses_error)
    call = {"type": "function_call", "name": "lookup", "arguments": ""}
    _feed(
        codec,
        [
            ("response.created", {"response": {"usage": None}}),
            ("response.output_item.added", {"item": {"type": "reasoning", "summary": []}}),
            ("response.reasoning_summary_text.delta", {"delta": "Plan"}),
            ("response.reasoning_text.delta", {"delta": "raw"}),
            ("response.output_item.added", {"item": {"type": "message", "content": []}}),
            ("response.output_text.delta", {"delta": "Hello"}),
            ("response.refusal.delta", {"delta": "No"}),
            ("response.output_item.added", {"item": call}),
            ("response.function_call_arguments.delta", {"delta": '{"q"'}),
            ("response.custom_tool_call_input.delta", {"delta": "ls"}),
            ("response.output_text.done", {"text": "Hello"}),
        ],
    )
    assert (codec.tally.pieces, codec.tally.text_bytes) == (7, 4 + 3 + 5 + 2 + 6 + 4 + 2)
    assert codec.tally.usage(40) == Usage(10, 7, estimated=True)
    done = {"usage": {"input_tokens": 9, "output_tokens": 30}}
    _feed(codec, [("response.completed", {"response": done})])
    assert codec.tally.usage(40) == Usage(9, 30)


def test_native_answers_without_usage_are_estimated_from_all_their_text() -> None:
    message = {
        "content": [
            {"type": "thinking", "thinking": "Hmm", "signature": "x" * 99},
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "t", "name": "search", "input": {"q": 1}},
        ]
    }
    assert message_usage(message, 40) == Usage(10, 5, estimated=True)  # 3+2+6+7 bytes
    message["usage"] = {"input_tokens": 8, "output_tokens": 20}
    assert message_usage(message, 40) == Usage(8, 20)
    response = {
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Plan"}]},
            {"type": "message", "content": [{"type": "output_text", "text": "Hello"}]},
            {"type": "message", "content": [{"type": "refusal", "refusal": "No"}]},
            {"type": "function_call", "name": "lookup", "arguments": '{"q"'},
        ]
    }
    assert response_usage(response, 40) == Usage(10, 6, estimated=True)  # 21 bytes
    response["usage"] = {"input_tokens": 8, "output_tokens": 20}
    assert response_usage(response, 40) == Usage(8, 20)

"""A chat.completion as a Response object, checked against the spec and the SDK."""

import pytest

from gatewayz.protocols.responses import chat_to_response
from tests.protocols.responses.helpers import (
    CREATED_AT,
    RESPONSE_ID,
    WEATHER,
    check_response,
    completion,
)


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


def test_reasoning_becomes_a_reasoning_item_before_the_answer() -> None:
    request = {"model": "m", "input": "hi", "tools": [WEATHER]}
    answer = completion(
        None, [("call_a", "get_weather", "{}")], "tool_calls", reasoning="The user wants weather."
    )
    response = chat_to_response(answer, request, RESPONSE_ID, CREATED_AT)
    parsed = check_response(response)
    assert response["output"][0] == {
        "id": "rs_0123abcd",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "The user wants weather."}],
    }
    assert [item.type for item in parsed.output] == ["reasoning", "function_call"]
    assert parsed.usage is not None and parsed.usage.output_tokens_details.reasoning_tokens == 4

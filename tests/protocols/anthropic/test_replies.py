"""Whole replies both ways: OpenAI chat.completion <-> Anthropic Message, checked against
the official SDK's types and OpenAI's spec."""

import json

import pytest

from gatewayz.protocols.anthropic import chat_to_messages_response, messages_to_chat_response
from gatewayz.protocols.anthropic.signature import Reasoning, read
from tests.openai_spec import validate
from tests.protocols.anthropic.helpers import validate_message

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
    validate_message(message)


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
    validate_message(message)


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
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
    }


# --- Prompt-cache tokens both ways -----------------------------------------------------

CACHED_ANTHROPIC_USAGE = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 2000,
    "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400},
    "output_tokens": 7,
    "service_tier": "standard",
}


def test_anthropic_cache_tokens_reach_an_openai_client_inside_prompt_tokens() -> None:
    message = {"id": "m", "content": [{"type": "text", "text": "hi"}], "usage": {}}
    message["usage"] = CACHED_ANTHROPIC_USAGE
    completion = messages_to_chat_response(message, "m")
    validate("CreateChatCompletionResponse", {**completion, "created": 1})
    assert completion["usage"] == {
        "prompt_tokens": 3050,
        "completion_tokens": 7,
        "total_tokens": 3057,
        "prompt_tokens_details": {
            "cached_tokens": 2000,
            "cache_write_tokens": 1000,
            "cache_write_1h_tokens": 400,
        },
    }


def test_openai_cache_tokens_reach_an_anthropic_client_beside_input_tokens() -> None:
    details = {"cached_tokens": 2000, "cache_write_tokens": 1000, "cache_write_1h_tokens": 400}
    usage = {"prompt_tokens": 3050, "completion_tokens": 7, "prompt_tokens_details": details}
    choice = {"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    message = chat_to_messages_response({"id": "c", "choices": [choice], "usage": usage}, "m")
    validate_message(message)
    assert message["usage"] == {key: CACHED_ANTHROPIC_USAGE[key] for key in message["usage"]}
    assert set(message["usage"]) == set(CACHED_ANTHROPIC_USAGE) - {"service_tier"}


def test_deepseek_cache_hits_reach_an_anthropic_client() -> None:
    usage = {"prompt_tokens": 120, "completion_tokens": 5, "prompt_cache_hit_tokens": 100}
    choice = {"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    message = chat_to_messages_response({"id": "c", "choices": [choice], "usage": usage}, "m")
    assert message["usage"] == {
        "input_tokens": 20,
        "output_tokens": 5,
        "cache_read_input_tokens": 100,
    }


# --- reasoning both ways, JSON mode ------------------------------------------------------


def _reasoning_reply(**message: object) -> dict[str, object]:
    choice = {"message": {"role": "assistant", **message}, "finish_reason": "stop"}
    return {"id": "c", "choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 8}}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_becomes_a_thinking_block_the_gateway_signs(field: str) -> None:
    reply = _reasoning_reply(content="Hi.", **{field: "Greet back."})
    message = chat_to_messages_response(reply, "m", provider="deepseek")
    validate_message(message)
    thinking, text = message["content"]
    assert thinking["type"] == "thinking" and thinking["thinking"] == "Greet back."
    assert read(thinking["signature"]) == Reasoning("deepseek", field, "Greet back.")
    assert text == {"type": "text", "text": "Hi."}
    hidden = chat_to_messages_response(reply, "m", provider="deepseek", show_thinking=False)
    assert hidden["content"][0]["thinking"] == ""
    assert hidden["content"][0]["signature"] == thinking["signature"]


def test_thinking_becomes_reasoning_content_and_json_mode_the_answer_text() -> None:
    message = {
        "id": "msg_1",
        "content": [
            {"type": "thinking", "thinking": "Keys first.", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "EmwK"},
            {"type": "tool_use", "id": "toolu_1", "name": "json_answer", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 30},
    }
    completion = messages_to_chat_response(message, "m", json_tool="json_answer")
    validate("CreateChatCompletionResponse", completion)
    reply = completion["choices"][0]["message"]
    assert reply["reasoning_content"] == "Keys first."
    assert json.loads(reply["content"]) == {"a": 1}
    assert "tool_calls" not in reply
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["completion_tokens"] == 30  # thinking is output
    plain = messages_to_chat_response(message, "m")
    assert plain["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "json_answer"
    assert plain["choices"][0]["finish_reason"] == "tool_calls"

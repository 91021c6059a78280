"""GenerateContentResponses as chat completions, and Gemini error bodies."""

import json

import pytest

from gatewayz.protocols.gemini import gemini_error_message, gemini_to_chat_response
from gatewayz.protocols.gemini.response import chat_usage
from tests.openai_spec import validate
from tests.protocols.gemini.helpers import BLOCKED, counting_ids

TEXT_RESPONSE = {
    "candidates": [
        {
            "content": {
                "parts": [{"text": "AI learns patterns "}, {"text": "from data."}],
                "role": "model",
            },
            "finishReason": "STOP",
            "avgLogprobs": -0.12,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 8,
        "candidatesTokenCount": 5,
        "totalTokenCount": 33,
        "cachedContentTokenCount": 4,
        "thoughtsTokenCount": 20,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mVd3aK-xFqGrz7IP",
}

FUNCTION_CALL_RESPONSE = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {
                        "functionCall": {
                            "name": "find_theaters",
                            "args": {"movie": "Barbie", "location": "Mountain View, CA"},
                        }
                    }
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
            ],
        }
    ],
    "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 12, "totalTokenCount": 82},
}


def test_text_response_becomes_a_chat_completion() -> None:
    out = gemini_to_chat_response(TEXT_RESPONSE, "gemini-2.5-flash")

    validate("CreateChatCompletionResponse", out)
    assert out["id"].startswith("chatcmpl-")
    assert out["model"] == "gemini-2.5-flash"
    assert out["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "AI learns patterns from data.",
                "refusal": None,
            },
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    # Thinking tokens are billed as output.
    assert out["usage"] == {
        "prompt_tokens": 8,
        "completion_tokens": 25,
        "total_tokens": 33,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 20},
    }


def test_function_call_response_becomes_tool_calls() -> None:
    out = gemini_to_chat_response(FUNCTION_CALL_RESPONSE, "gemini-2.5-flash", counting_ids())

    validate("CreateChatCompletionResponse", out)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "call_0"
    assert call["type"] == "function"
    assert call["function"]["name"] == "find_theaters"
    assert json.loads(call["function"]["arguments"]) == {
        "movie": "Barbie",
        "location": "Mountain View, CA",
    }
    assert out["usage"]["prompt_tokens"] == 70
    assert out["usage"]["completion_tokens"] == 12


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(reason: str, finish: str) -> None:
    resp = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "a"}]}, "finishReason": reason}
        ]
    }

    assert gemini_to_chat_response(resp, "m")["choices"][0]["finish_reason"] == finish


def test_each_candidate_becomes_a_choice() -> None:
    resp = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "one"}]}, "finishReason": "STOP"},
            {
                "content": {"role": "model", "parts": [{"text": "two"}]},
                "finishReason": "MAX_TOKENS",
                "index": 1,
            },
        ]
    }

    choices = gemini_to_chat_response(resp, "m")["choices"]

    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "one", "stop"),
        (1, "two", "length"),
    ]


def test_blocked_prompt_becomes_a_content_filter_choice() -> None:
    out = gemini_to_chat_response(BLOCKED, "m")

    validate("CreateChatCompletionResponse", out)
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["choices"][0]["message"]["content"] is None
    assert out["usage"]["prompt_tokens"] == 9
    assert out["usage"]["completion_tokens"] == 0


def test_safety_stop_mid_answer_keeps_the_text_so_far() -> None:
    resp = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Here is how"}]},
                "finishReason": "SAFETY",
                "safetyRatings": [
                    {
                        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                        "probability": "HIGH",
                        "blocked": True,
                    }
                ],
            }
        ]
    }

    choice = gemini_to_chat_response(resp, "m")["choices"][0]

    assert choice["message"]["content"] == "Here is how"
    assert choice["finish_reason"] == "content_filter"


# --- errors ------------------------------------------------------------------------------


def test_error_message_is_read_from_a_gemini_error_body() -> None:
    body = {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}

    assert gemini_error_message(body) == "API key not valid."
    assert gemini_error_message({"candidates": []}) is None
    assert gemini_error_message({"error": "nope"}) is None


def test_the_prompt_of_tool_use_counts_as_prompt_tokens() -> None:
    meta = {"promptTokenCount": 8, "toolUsePromptTokenCount": 30, "candidatesTokenCount": 5}
    usage = chat_usage(meta)
    assert usage is not None
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (38, 5)


TWO_CALLS = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Let me see.", "thought": True},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 10},
}


def test_a_single_call_answer_keeps_the_first_function_call() -> None:
    chat = gemini_to_chat_response(TWO_CALLS, "gemini-2.5-flash", single_call=True)
    (call,) = chat["choices"][0]["message"]["tool_calls"]
    assert call["function"]["arguments"] == '{"city":"Paris"}'
    both = gemini_to_chat_response(TWO_CALLS, "gemini-2.5-flash")
    assert len(both["choices"][0]["message"]["tool_calls"]) == 2


def test_thoughts_reach_the_message_as_reasoning_content() -> None:
    chat = gemini_to_chat_response(TWO_CALLS, "gemini-2.5-flash")
    assert chat["choices"][0]["message"]["reasoning_content"] == "Let me see."

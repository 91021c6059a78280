"""OpenAI chat requests as Gemini GenerateContentRequests: a recorded conversation, the
fields Gemini cannot express refused by name, tool choices."""

from typing import Any

import pytest

from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.gemini import chat_to_gemini_request
from tests.protocols.gemini.helpers import PLACEHOLDER, chat_request, refused

# --- request: a recorded conversation --------------------------------------------------

FIND_THEATERS = {
    "name": "find_theaters",
    "description": "find theaters based on location and optionally movie title",
    "strict": True,
    "parameters": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state"},
            "movie": {"type": ["string", "null"], "description": "Any movie title"},
        },
        "required": ["location", "movie"],
        "additionalProperties": False,
    },
}


def test_request_with_system_turns_images_and_tools() -> None:
    body = {
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "You are a cinema assistant."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is on this poster?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                ],
            },
            {"role": "assistant", "content": "A poster for Barbie."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And this one?"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/b.webp?s=1"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/poster"}},
                ],
            },
            {"role": "developer", "content": [{"type": "text", "text": "Answer briefly."}]},
            {"role": "user", "content": "Which theaters in Mountain View show Barbie?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {
                            "name": "find_theaters",
                            "arguments": '{"location": "Mountain View, CA", "movie": "Barbie"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"theaters": ["AMC 16"]}'},
        ],
        "tools": [{"type": "function", "function": FIND_THEATERS}],
        "tool_choice": "auto",
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 100,
        "max_completion_tokens": 256,
        "stop": "END",
        "n": 1,
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u-1",
    }

    assert chat_to_gemini_request(body) == {
        "systemInstruction": {
            "parts": [{"text": "You are a cinema assistant."}, {"text": "Answer briefly."}]
        },
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is on this poster?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
                ],
            },
            {"role": "model", "parts": [{"text": "A poster for Barbie."}]},
            {
                "role": "user",
                "parts": [
                    {"text": "And this one?"},
                    {
                        "fileData": {
                            "mimeType": "image/webp",
                            "fileUri": "https://x.test/b.webp?s=1",
                        }
                    },
                    {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/poster"}},
                    {"text": "Which theaters in Mountain View show Barbie?"},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {
                            "name": "find_theaters",
                            "args": {"location": "Mountain View, CA", "movie": "Barbie"},
                        },
                        "thoughtSignature": PLACEHOLDER,
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "find_theaters",
                            "response": {"content": {"theaters": ["AMC 16"]}},
                        }
                    }
                ],
            },
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "find_theaters",
                        "description": "find theaters based on location and optionally movie title",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {
                                "location": {"type": "STRING", "description": "The city and state"},
                                "movie": {
                                    "type": "STRING",
                                    "nullable": True,
                                    "description": "Any movie title",
                                },
                            },
                            "required": ["location", "movie"],
                        },
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {
            "temperature": 0.2,
            "topP": 0.9,
            "presencePenalty": 0.5,
            "frequencyPenalty": -0.5,
            "candidateCount": 1,
            "seed": 7,
            "maxOutputTokens": 256,
            "stopSequences": ["END"],
        },
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("logprobs", True),
        ("top_logprobs", 3),
        ("logit_bias", {"50256": -100}),
        ("audio", {"voice": "alloy", "format": "mp3"}),
        ("web_search_options", {}),
        ("some_vendor_extension", 1),
    ],
)
def test_fields_gemini_cannot_express_are_refused_by_name(field: str, value: Any) -> None:
    assert refused(chat_request(**{field: value})).param == field


def test_reasoning_effort_becomes_a_thinking_budget_within_the_output_limit() -> None:
    body = chat_request(reasoning_effort="medium", max_tokens=1000)
    config = chat_to_gemini_request(body)["generationConfig"]
    assert config == {
        "maxOutputTokens": 1000,
        "thinkingConfig": {"thinkingBudget": 500, "includeThoughts": True},
    }
    low = chat_to_gemini_request(chat_request(reasoning_effort="low", max_tokens=100_000))
    assert low["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 1024
    assert refused(chat_request(reasoning_effort="extreme")).param == "reasoning_effort"


def test_parallel_tool_calls_false_is_accepted_and_hints_are_named_as_dropped() -> None:
    dropped = Dropped("gem")
    body = chat_request(
        parallel_tool_calls=False, user="u-1", metadata={"k": "v"}, prompt_cache_key="p"
    )
    assert chat_to_gemini_request(body, dropped) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
    }
    assert dropped.paths == ["user", "metadata", "prompt_cache_key"]


def test_fields_at_their_neutral_or_null_values_are_accepted() -> None:
    body = chat_request(
        logprobs=False,
        parallel_tool_calls=True,
        modalities=["text"],
        top_logprobs=None,
        store=False,
        metadata={"k": "v"},
    )

    assert chat_to_gemini_request(body) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
    }


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("none", {"mode": "NONE"}),
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "f"}},
            {"mode": "ANY", "allowedFunctionNames": ["f"]},
        ),
    ],
)
def test_tool_choice_becomes_function_calling_mode(choice: Any, config: dict[str, Any]) -> None:
    out = chat_to_gemini_request(chat_request(tools=[TOOL], tool_choice=choice))

    assert out["toolConfig"] == {"functionCallingConfig": config}
    # A function without arguments: Gemini rejects an OBJECT schema without properties.
    assert out["tools"] == [{"functionDeclarations": [{"name": "f"}]}]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "g"}}},
            "tool_choice.function.name",
        ),
        (
            {"tools": [TOOL], "tool_choice": {"type": "allowed_tools", "allowed_tools": {}}},
            "tool_choice",
        ),
        ({"tools": [{"type": "custom", "custom": {"name": "f"}}]}, "tools.0.type"),
    ],
)
def test_tool_choices_gemini_cannot_express_are_refused(fields: dict[str, Any], param: str) -> None:
    assert refused(chat_request(**fields)).param == param

"""Gemini generateContent <-> OpenAI chat: requests out, responses and stream chunks back."""

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.gemini import (
    GeminiStreamToChat,
    chat_to_gemini_request,
    gemini_error_message,
    gemini_to_chat_response,
)
from tests.openai_spec import validate

PLACEHOLDER = "skip_thought_signature_validator"


def _ids(prefix: str = "call_") -> Callable[[], str]:
    """Deterministic tool call ids: call_0, call_1, ..."""
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter)}"


def _request(**fields: Any) -> dict[str, Any]:
    return {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], **fields}


def _refused(body: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        chat_to_gemini_request(body)
    return caught.value


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


def test_two_tool_results_find_their_function_names_by_tool_call_id() -> None:
    calls = [
        {"id": "call_w", "type": "function", "function": {"name": "weather", "arguments": "{}"}},
        {"id": "call_t", "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ]
    body = _request(
        messages=[
            {"role": "user", "content": "Weather and time in Paris?"},
            {"role": "assistant", "tool_calls": calls},
            # Answered in the other order: only the id links a result to its call.
            {"role": "tool", "tool_call_id": "call_t", "content": "12:00"},
            {
                "role": "tool",
                "tool_call_id": "call_w",
                "content": [{"type": "text", "text": "sun"}],
            },
        ]
    )

    last = chat_to_gemini_request(body)["contents"][-1]

    assert last == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "time", "response": {"content": "12:00"}}},
            {"functionResponse": {"name": "weather", "response": {"content": "sun"}}},
        ],
    }


def test_tool_result_for_an_unknown_tool_call_id_is_refused() -> None:
    body = _request(
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_nope", "content": "x"},
        ]
    )

    assert _refused(body).param == "messages.1.tool_call_id"


def test_tool_call_with_arguments_that_are_not_a_json_object_is_refused() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    body = _request(messages=[{"role": "assistant", "tool_calls": [call]}])

    assert _refused(body).param == "messages.0.tool_calls.0.function.arguments"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("logprobs", True),
        ("top_logprobs", 3),
        ("logit_bias", {"50256": -100}),
        ("audio", {"voice": "alloy", "format": "mp3"}),
        ("reasoning_effort", "low"),
        ("parallel_tool_calls", False),
        ("web_search_options", {}),
        ("some_vendor_extension", 1),
    ],
)
def test_fields_gemini_cannot_express_are_refused_by_name(field: str, value: Any) -> None:
    assert _refused(_request(**{field: value})).param == field


def test_fields_at_their_neutral_or_null_values_are_accepted() -> None:
    body = _request(
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


def test_a_conversation_without_user_or_assistant_content_is_refused() -> None:
    body = _request(
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": ""}]
    )

    assert _refused(body).param == "messages"


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "user", "content": "hi", "name": "ann"}, "messages.0.name"),
        ({"role": "function", "name": "f", "content": "x"}, "messages.0.role"),
        ({"role": "user", "content": [{"type": "file", "file": {}}]}, "messages.0.content.0.type"),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]},
            "messages.0.content.0.image_url.url",
        ),
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            "messages.0.content.0.type",
        ),
    ],
)
def test_message_features_gemini_cannot_express_are_refused(
    message: dict[str, Any], param: str
) -> None:
    assert _refused(_request(messages=[message])).param == param


def test_audio_input_becomes_inline_data() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    body = _request(messages=[{"role": "user", "content": [audio]}])

    parts = chat_to_gemini_request(body)["contents"][0]["parts"]

    assert parts == [{"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]


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
    out = chat_to_gemini_request(_request(tools=[TOOL], tool_choice=choice))

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
    assert _refused(_request(**fields)).param == param


def test_response_format_json_object_and_json_schema() -> None:
    plain = chat_to_gemini_request(_request(response_format={"type": "json_object"}))
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "x", "strict": True, "schema": schema},
    }
    typed = chat_to_gemini_request(_request(response_format=response_format))

    assert plain["generationConfig"] == {"responseMimeType": "application/json"}
    assert typed["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "properties": {
                "city": {"type": "STRING"},
                "when": {"type": "STRING", "format": "date-time"},
            },
            "required": ["city"],
        },
    }


def test_pydantic_style_schema_refs_and_optionals_are_inlined() -> None:
    parameters = {
        "$defs": {
            "Unit": {"type": "string", "enum": ["C", "F"], "title": "Unit"},
        },
        "type": "object",
        "properties": {
            "unit": {"$ref": "#/$defs/Unit", "description": "Temperature unit"},
            "days": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            "uri": {"type": "string", "format": "uri"},
        },
    }
    tools = [{"type": "function", "function": {"name": "forecast", "parameters": parameters}}]

    declaration = chat_to_gemini_request(_request(tools=tools))["tools"][0]["functionDeclarations"][
        0
    ]

    assert declaration["parameters"] == {
        "type": "OBJECT",
        "properties": {
            "unit": {
                "type": "STRING",
                "enum": ["C", "F"],
                "title": "Unit",
                "description": "Temperature unit",
            },
            "days": {"type": "INTEGER", "nullable": True, "default": None},
            "uri": {"type": "STRING"},
        },
    }


@pytest.mark.parametrize(
    ("parameters", "param"),
    [
        (
            {"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}},
            "properties.a.oneOf",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "integer", "enum": [1, 2]}}},
            "properties.a.enum",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/Node"}},
                "$defs": {
                    "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
                },
            },
            "properties.a.properties.next.$ref",
        ),
        ({"type": ["string", "integer"]}, "type"),
    ],
)
def test_schemas_gemini_cannot_express_are_refused(parameters: dict[str, Any], param: str) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": parameters}}]

    assert _refused(_request(tools=tools)).param == f"tools.0.function.parameters.{param}"


# --- response ----------------------------------------------------------------------------

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
    out = gemini_to_chat_response(FUNCTION_CALL_RESPONSE, "gemini-2.5-flash", _ids())

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


def test_made_up_tool_call_ids_are_unique() -> None:
    parts = [{"functionCall": {"name": "f", "args": {}}}] * 20
    resp = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}

    calls = gemini_to_chat_response(resp, "m")["choices"][0]["message"]["tool_calls"]

    assert len({call["id"] for call in calls}) == 20
    assert all(call["id"].startswith("call_") for call in calls)


def test_thought_signature_rides_in_the_tool_call_id_and_comes_back() -> None:
    part = {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "c2lnbmF0dXJl"}
    resp = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP"}]}
    message = gemini_to_chat_response(resp, "gemini-3-pro", _ids())["choices"][0]["message"]
    call_id = message["tool_calls"][0]["id"]

    body = _request(
        messages=[
            {"role": "user", "content": "go"},
            message,
            {"role": "tool", "tool_call_id": call_id, "content": "done"},
        ]
    )
    contents = chat_to_gemini_request(body)["contents"]

    assert contents[1] == {"role": "model", "parts": [part]}
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "f"


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


BLOCKED = {
    "promptFeedback": {
        "blockReason": "SAFETY",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}],
    },
    "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
}


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


# --- stream -------------------------------------------------------------------------------

STREAM = [
    {
        "candidates": [{"content": {"parts": [{"text": "The"}], "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6},
        "modelVersion": "gemini-2.5-flash",
    },
    {
        "candidates": [{"content": {"parts": [{"text": " sky is"}], "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6},
        "modelVersion": "gemini-2.5-flash",
    },
    {
        "candidates": [
            {
                "content": {"parts": [{"text": " blue."}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 6,
            "candidatesTokenCount": 4,
            "totalTokenCount": 22,
            "thoughtsTokenCount": 12,
        },
        "modelVersion": "gemini-2.5-flash",
    },
]


def _run(
    stream: list[dict[str, Any]], include_usage: bool
) -> tuple[GeminiStreamToChat, list[dict[str, Any]]]:
    translator = GeminiStreamToChat("gemini-2.5-flash", "chatcmpl-1", include_usage, _ids())
    chunks = [chunk for resp in stream for chunk in translator.feed(resp)]
    return translator, chunks + translator.finish()


def test_stream_of_partial_responses_with_usage_on_the_last() -> None:
    translator, chunks = _run(STREAM, include_usage=True)

    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    assert {chunk["id"] for chunk in chunks} == {"chatcmpl-1"}
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks[:-1]]
    assert deltas == [
        {"role": "assistant", "content": "The"},
        {"content": " sky is"},
        {"content": " blue."},
    ]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks[:-1]] == [None, None, "stop"]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 6
    assert chunks[-1]["usage"]["completion_tokens"] == 16
    assert translator.usage == (6, 16)


def test_stream_without_include_usage_has_no_usage_chunk_but_keeps_the_count() -> None:
    translator, chunks = _run(STREAM, include_usage=False)

    assert len(chunks) == 3
    assert all("usage" not in chunk for chunk in chunks)
    assert translator.usage == (6, 16)


def test_stream_function_calls_become_whole_tool_call_deltas_counted_per_choice() -> None:
    def call(name: str) -> dict[str, Any]:
        return {"functionCall": {"name": name, "args": {"city": "Paris"}}}

    stream = [
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "Checking."}, call("weather")]}}
            ]
        },
        {
            "candidates": [
                {"content": {"role": "model", "parts": [call("time")]}, "finishReason": "STOP"}
            ]
        },
    ]

    _, chunks = _run(stream, include_usage=False)

    first, second = (chunk["choices"][0] for chunk in chunks)
    assert first["delta"] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "index": 0,
                "id": "call_0",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert second["delta"]["tool_calls"][0]["index"] == 1
    assert second["delta"]["tool_calls"][0]["function"]["name"] == "time"
    assert second["finish_reason"] == "tool_calls"


def test_stream_of_a_blocked_prompt_ends_with_content_filter() -> None:
    translator, chunks = _run([BLOCKED], include_usage=True)

    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert chunks[0]["choices"][0]["finish_reason"] == "content_filter"
    assert chunks[-1]["usage"]["prompt_tokens"] == 9
    assert translator.usage == (9, 0)


def test_stream_without_any_usage_reports_none() -> None:
    stream = [
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}
            ]
        }
    ]

    translator, chunks = _run(stream, include_usage=True)

    assert translator.usage is None
    assert [chunk["choices"] for chunk in chunks if not chunk["choices"]] == []


# --- errors ---------------------------------------------------------------------------------


def test_error_message_is_read_from_a_gemini_error_body() -> None:
    body = {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}

    assert gemini_error_message(body) == "API key not valid."
    assert gemini_error_message({"candidates": []}) is None
    assert gemini_error_message({"error": "nope"}) is None


# --- properties ---------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
TEXTS = st.text(max_size=20)
ARGS = st.dictionaries(NAMES, st.one_of(st.integers(-1000, 1000), TEXTS, st.booleans()), max_size=3)
# A tool result is either a JSON object (sent parsed) or plain text (sent as it is).
RESULTS = st.one_of(ARGS.map(json.dumps), TEXTS.map(lambda text: f"result: {text}"))


@st.composite
def conversations(draw: st.DrawFn) -> tuple[dict[str, Any], list[str], list[str]]:
    """A request, the texts of its system messages, and the texts of its other messages."""
    tools = draw(
        st.lists(st.tuples(NAMES, TEXTS), min_size=1, max_size=4, unique_by=lambda t: t[0])
    )
    messages: list[dict[str, Any]] = []
    system_texts: list[str] = []
    texts: list[str] = []
    ids = itertools.count()
    for kind in draw(
        st.lists(
            st.sampled_from(["system", "developer", "user", "assistant", "tools"]),
            min_size=1,
            max_size=8,
        )
    ):
        if kind == "tools":
            names = draw(
                st.lists(st.sampled_from([name for name, _ in tools]), min_size=1, max_size=3)
            )
            calls = [
                {
                    "id": f"id{next(ids)}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(draw(ARGS))},
                }
                for name in names
            ]
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            results = draw(st.permutations(calls))
            messages.extend(
                {"role": "tool", "tool_call_id": call["id"], "content": draw(RESULTS)}
                for call in results
            )
            continue
        text = draw(TEXTS)
        as_parts = draw(st.booleans())
        messages.append(
            {"role": kind, "content": [{"type": "text", "text": text}] if as_parts else text}
        )
        if text:
            (system_texts if kind in ("system", "developer") else texts).append(text)
    if not texts and not any(message["role"] == "tool" for message in messages):
        messages.append({"role": "user", "content": "end"})
        texts.append("end")
    body = {
        "model": "gemini-2.5-flash",
        "messages": messages,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": description,
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
            for name, description in tools
        ],
    }
    return body, system_texts, texts


@settings(max_examples=200, deadline=None)
@given(conversations())
def test_translated_request_keeps_every_text_and_every_tool(
    case: tuple[dict[str, Any], list[str], list[str]],
) -> None:
    body, system_texts, texts = case

    out = chat_to_gemini_request(body)

    system = [part["text"] for part in out.get("systemInstruction", {}).get("parts", [])]
    turns = [
        part["text"] for content in out["contents"] for part in content["parts"] if "text" in part
    ]
    assert system == system_texts
    assert turns == texts
    declarations = out["tools"][0]["functionDeclarations"]
    assert [(d["name"], d["description"]) for d in declarations] == [
        (tool["function"]["name"], tool["function"]["description"]) for tool in body["tools"]
    ]
    roles = [content["role"] for content in out["contents"]]
    assert all(a != b for a, b in itertools.pairwise(roles))


@settings(max_examples=200, deadline=None)
@given(conversations())
def test_every_tool_result_maps_back_to_its_function_name(
    case: tuple[dict[str, Any], list[str], list[str]],
) -> None:
    body, _, _ = case
    name_of = {
        call["id"]: call["function"]["name"]
        for message in body["messages"]
        for call in message.get("tool_calls") or ()
    }
    expected = [
        (name_of[message["tool_call_id"]], message["content"])
        for message in body["messages"]
        if message["role"] == "tool"
    ]

    out = chat_to_gemini_request(body)

    responses = [
        part["functionResponse"]
        for content in out["contents"]
        for part in content["parts"]
        if "functionResponse" in part
    ]
    assert [(r["name"], r["response"]["content"]) for r in responses] == [
        (name, _parsed_or_raw(content)) for name, content in expected
    ]


def _parsed_or_raw(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            NAMES, ARGS, st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9+/]{4,40}", fullmatch=True))
        ),
        min_size=1,
        max_size=4,
    )
)
def test_function_calls_survive_a_round_trip_through_the_client(
    calls: list[tuple[str, dict[str, Any], str | None]],
) -> None:
    parts = []
    for name, args, signature in calls:
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    resp = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}
    message = gemini_to_chat_response(resp, "m")["choices"][0]["message"]
    results = [
        {"role": "tool", "tool_call_id": call["id"], "content": "ok"}
        for call in message["tool_calls"]
    ]

    contents = chat_to_gemini_request(
        _request(messages=[{"role": "user", "content": "go"}, message, *results])
    )["contents"]

    if "thoughtSignature" not in parts[0]:
        parts[0] = {**parts[0], "thoughtSignature": PLACEHOLDER}
    assert contents[1] == {"role": "model", "parts": parts}
    assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == [
        name for name, _, _ in calls
    ]

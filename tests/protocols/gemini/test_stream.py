"""Streamed GenerateContentResponses as chat completion chunks."""

from typing import Any

from gatewayz.protocols.gemini import GeminiStreamToChat
from tests.openai_spec import validate
from tests.protocols.gemini.helpers import BLOCKED, counting_ids

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
    translator = GeminiStreamToChat("gemini-2.5-flash", "chatcmpl-1", include_usage, counting_ids())
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


def test_thought_parts_stream_as_reasoning_content_before_the_answer() -> None:
    thought = {"text": "Considering the sky.", "thought": True}
    stream = [
        {"candidates": [{"content": {"parts": [thought], "role": "model"}, "index": 0}]},
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": "Blue.", "thought": True}, {"text": "Blue."}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ]
        },
    ]
    _, chunks = _run(stream, include_usage=False)
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    assert [chunk["choices"][0]["delta"] for chunk in chunks] == [
        {"role": "assistant", "reasoning_content": "Considering the sky."},
        {"reasoning_content": "Blue.", "content": "Blue."},
    ]


def test_a_single_call_stream_keeps_the_first_function_call() -> None:
    calls = [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]
    first = {"candidates": [{"content": {"parts": calls[:1], "role": "model"}, "index": 0}]}
    second = {
        "candidates": [{"content": {"parts": calls[1:], "role": "model"}, "finishReason": "STOP"}]
    }
    translator = GeminiStreamToChat("m", "chatcmpl-1", False, single_call=True)
    chunks = translator.feed(first) + translator.feed(second)
    sent = [c for chunk in chunks for c in chunk["choices"][0]["delta"].get("tool_calls", [])]
    assert [call["function"]["arguments"] for call in sent] == ['{"city":"Paris"}']
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

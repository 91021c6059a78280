"""OpenAI chat completions and chunks as Gemini responses, and the Gemini passthrough rules."""

from typing import Any

import pytest

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.gemini.from_chat import ChatStreamToGemini, chat_to_gemini_response
from gatewayz.protocols.gemini.passthrough import native_request

COMPLETION = {
    "id": "chatcmpl-1",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Sunny.",
                "reasoning_content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 7,
        "completion_tokens": 9,
        "completion_tokens_details": {"reasoning_tokens": 4},
        "prompt_tokens_details": {"cached_tokens": 2},
    },
}


def test_a_completion_becomes_a_generate_content_response() -> None:
    response = chat_to_gemini_response(COMPLETION, "fake/fake-model", include_thoughts=True)
    (candidate,) = response["candidates"]
    assert candidate["content"]["parts"] == [
        {"text": "Let me look.", "thought": True},
        {"text": "Sunny."},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}},
    ]
    assert candidate["finishReason"] == "STOP"
    assert response["usageMetadata"] == {
        "promptTokenCount": 7,
        "candidatesTokenCount": 5,
        "totalTokenCount": 16,
        "thoughtsTokenCount": 4,
        "cachedContentTokenCount": 2,
    }
    hidden = chat_to_gemini_response(COMPLETION, "m", include_thoughts=False)
    assert {"text": "Let me look.", "thought": True} not in hidden["candidates"][0]["content"][
        "parts"
    ]


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-2", "choices": choices, "usage": usage}


def test_a_stream_sends_text_then_whole_calls_then_usage() -> None:
    translator = ChatStreamToGemini("m", include_thoughts=False)
    fragments = [
        {"index": 0, "id": "call_9", "function": {"name": "f", "arguments": '{"a"'}},
        {"index": 0, "function": {"arguments": ": 1}"}},
    ]
    out = translator.feed(_chunk({"role": "assistant", "content": "Hi"}))
    out += translator.feed(_chunk({"tool_calls": fragments[:1]}))
    out += translator.feed(_chunk({"tool_calls": fragments[1:]}))
    out += translator.feed(_chunk({}, "tool_calls"))
    out += translator.feed(_chunk({}, usage={"prompt_tokens": 3, "completion_tokens": 4}))
    out += translator.finish()
    parts = [p for r in out for c in r["candidates"] for p in c["content"]["parts"]]
    assert parts == [
        {"text": "Hi"},
        {"functionCall": {"name": "f", "args": {"a": 1}, "id": "call_9"}},
    ]
    assert out[-1]["candidates"][0]["finishReason"] == "STOP"
    assert out[-1]["usageMetadata"]["candidatesTokenCount"] == 4


def test_the_passthrough_sends_the_limit_held_and_refuses_what_it_cannot_bill() -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"topK": 2}}
    sent = native_request(body, "gem", frozenset(), 512)
    assert sent["generationConfig"] == {"topK": 2, "maxOutputTokens": 512}
    video = {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/v.mp4"}}
    with pytest.raises(InvalidRequest) as refused:
        native_request({"contents": [{"parts": [video]}]}, "gem", frozenset(), 512)
    assert refused.value.param == "contents.0.parts.0.fileData"
    allowed = native_request(
        {"contents": [{"parts": [video]}]}, "gem", frozenset({"contents.fileData"}), 512
    )
    assert allowed["contents"][0]["parts"] == [video]
    speech = {**body, "generationConfig": {"speechConfig": {}}}
    with pytest.raises(InvalidRequest):
        native_request(speech, "gem", frozenset(), 512)
    search = {**body, "tools": [{"googleSearch": {}}]}
    assert native_request(search, "gem", frozenset({"tools.googleSearch"}), 512)["tools"]

"""Gemini requests (as the SDKs send them) as OpenAI chat requests."""

from typing import Any

import pytest

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.gemini.to_chat import gemini_to_chat_request

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING", "nullable": True}},
        "required": ["city"],
        "property_ordering": ["city"],
    },
}


def translate(body: dict[str, Any], dropped: Dropped | None = None) -> dict[str, Any]:
    return gemini_to_chat_request(body, "fake/fake-model", dropped or Dropped())


def test_a_tool_loop_becomes_messages_with_matching_ids() -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "weather in Paris?"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"t": 18}}},
                    {"functionResponse": {"name": "get_weather", "response": {"t": 25}}},
                ],
            },
        ],
        "tools": [{"functionDeclarations": [WEATHER]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "generationConfig": {"maxOutputTokens": 100, "candidateCount": 2, "stopSequences": ["X"]},
    }
    chat = translate(body)
    system, user, assistant, first, second = chat["messages"]
    assert system == {"role": "system", "content": "Be terse."}
    assert user == {"role": "user", "content": "weather in Paris?"}
    ids = [call["id"] for call in assistant["tool_calls"]]
    assert len(set(ids)) == 2
    assert (first["tool_call_id"], first["content"]) == (ids[0], '{"t":18}')
    assert (second["tool_call_id"], second["content"]) == (ids[1], '{"t":25}')
    assert chat["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": ["string", "null"]}},
        "required": ["city"],
    }
    assert chat["tool_choice"] == "required"
    assert (chat["max_tokens"], chat["n"], chat["stop"]) == (100, 2, ["X"])


def test_a_function_response_quoting_its_call_id_answers_that_call() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"functionCall": {"id": "c1", "name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"id": "c1", "name": "f"}}]},
        ]
    }
    assert translate(body)["messages"][2]["tool_call_id"] == "c1"


def test_a_function_response_without_its_call_is_refused() -> None:
    body = {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f"}}]}]}
    with pytest.raises(InvalidRequest) as refused:
        translate(body)
    assert refused.value.param == "contents.0.parts.0.functionResponse"


@pytest.mark.parametrize(
    ("config", "response_format"),
    [
        ({"responseMimeType": "application/json"}, {"type": "json_object"}),
        (
            {"responseMimeType": "application/json", "responseSchema": {"type": "STRING"}},
            {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": {"type": "string"}},
            },
        ),
        (
            {"responseJsonSchema": {"type": "integer"}},
            {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": {"type": "integer"}},
            },
        ),
    ],
)
def test_json_output_becomes_response_format(
    config: dict[str, Any], response_format: dict[str, Any]
) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": config}
    assert translate(body)["response_format"] == response_format


def test_thinking_and_hints() -> None:
    dropped = Dropped()
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "hmm", "thought": True}, {"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "again"}]},
        ],
        "safetySettings": [],
        "tools": [{"googleSearch": {}}],
        "generationConfig": {"topK": 3, "thinkingConfig": {"thinkingLevel": "HIGH"}},
    }
    chat = translate(body, dropped)
    assert chat["reasoning_effort"] == "high"
    assert chat["messages"][1] == {"role": "assistant", "content": "Hello"}
    assert dropped.paths == [
        "safetySettings",
        "contents.1.parts.0",
        "tools.0.googleSearch",
        "generationConfig.topK",
    ]
    strict = Dropped("fake", strict=True)
    with pytest.raises(InvalidRequest) as refused:
        translate({"contents": body["contents"][:1], "safetySettings": []}, strict)
    assert refused.value.param == "safetySettings"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"cachedContent": "cachedContents/1"}, "cachedContent"),
        (
            {"generationConfig": {"responseModalities": ["AUDIO"]}},
            "generationConfig.responseModalities",
        ),
        ({"generationConfig": {"responseLogprobs": True}}, "generationConfig.responseLogprobs"),
        (
            {"generationConfig": {"responseMimeType": "text/x.enum"}},
            "generationConfig.responseMimeType",
        ),
        ({"somethingNew": 1}, "somethingNew"),
    ],
)
def test_fields_of_meaning_other_upstreams_lack_are_refused(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        translate({"contents": [{"parts": [{"text": "hi"}]}], **body})
    assert refused.value.param == param

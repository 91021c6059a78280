"""Anthropic Messages requests in: the OpenAI chat request for one, recorded examples, a
round trip back and a property test that nothing is lost."""

import copy
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.protocols.anthropic import chat_to_messages_request, messages_to_chat_request
from tests.openai_spec import validate
from tests.protocols.anthropic.helpers import (
    ARGS,
    NAME,
    TEXT,
    Json,
    content_blocks,
    refused,
    texts_in,
)

# --- Anthropic request -> OpenAI chat request --------------------------------------------

# A tool-use conversation in the shape of the Anthropic docs, with every mapped field.
ANTHROPIC_REQUEST = """{
  "model": "claude-sonnet-4-20250514", "max_tokens": 1024,
  "system": [{"type": "text", "text": "You are a weather bot.",
              "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": [
      {"type": "text", "text": "What's the weather like in Beijing today?"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                   "data": "iVBORw0KGgo="}},
      {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.jpg"}}]},
    {"role": "assistant", "content": [
      {"type": "text", "text": "Let me help you check the weather in Beijing."},
      {"type": "tool_use", "id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "name": "get_weather",
       "input": {"location": "Beijing"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_012f3meaYuYj9yPPuyuRVw9U",
       "content": "15 degrees"},
      {"type": "text", "text": "And tomorrow?"}]}],
  "tools": [{"name": "get_weather",
             "description": "Get the current weather for a specified location",
             "input_schema": {"type": "object", "required": ["location"],
                              "properties": {"location": {"type": "string"}}}}],
  "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
  "stop_sequences": ["###"], "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stream": true,
  "metadata": {"user_id": "user-7"}, "thinking": {"type": "disabled"}
}"""

EXPECTED_CHAT_REQUEST = """{
  "model": "claude-sonnet-4-20250514",
  "messages": [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": [
      {"type": "text", "text": "What's the weather like in Beijing today?"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
      {"type": "image_url", "image_url": {"url": "https://example.com/sky.jpg"}}]},
    {"role": "assistant", "content": "Let me help you check the weather in Beijing.",
     "tool_calls": [{"id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "type": "function",
                     "function": {"name": "get_weather",
                                  "arguments": "{\\"location\\": \\"Beijing\\"}"}}]},
    {"role": "tool", "tool_call_id": "toolu_012f3meaYuYj9yPPuyuRVw9U", "content": "15 degrees"},
    {"role": "user", "content": "And tomorrow?"}],
  "max_tokens": 1024, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stream": true,
  "stop": ["###"], "user": "user-7",
  "tools": [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a specified location",
    "parameters": {"type": "object", "required": ["location"],
                   "properties": {"location": {"type": "string"}}}}}],
  "tool_choice": "auto", "parallel_tool_calls": false
}"""


def test_anthropic_request_becomes_the_equivalent_chat_request() -> None:
    chat = messages_to_chat_request(json.loads(ANTHROPIC_REQUEST))
    assert chat == json.loads(EXPECTED_CHAT_REQUEST)
    validate("CreateChatCompletionRequest", chat)


def test_tool_results_come_right_after_the_assistant_turn_and_keep_errors() -> None:
    body = json.loads("""{"model": "m", "max_tokens": 5, "messages": [
      {"role": "user", "content": "go"},
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "a", "name": "f", "input": {}},
        {"type": "tool_use", "id": "b", "name": "g", "input": {"x": [1, "é"]}}]},
      {"role": "user", "content": [
        {"type": "text", "text": "here you are"},
        {"type": "tool_result", "tool_use_id": "a",
         "content": [{"type": "text", "text": "1"}, {"type": "text", "text": "2"}]},
        {"type": "tool_result", "tool_use_id": "b", "content": "boom", "is_error": true}]}]}""")
    messages = messages_to_chat_request(body)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert messages[1]["content"] is None
    assert json.loads(messages[1]["tool_calls"][1]["function"]["arguments"]) == {"x": [1, "é"]}
    assert messages[2] == {
        "role": "tool",
        "tool_call_id": "a",
        "content": [{"type": "text", "text": "1"}, {"type": "text", "text": "2"}],
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "b", "content": "Error: boom"}
    assert messages[4] == {"role": "user", "content": "here you are"}


@pytest.mark.parametrize(
    ("choice", "tool_choice"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_tool_choice_maps_to_openai(choice: Json, tool_choice: Any) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    chat = messages_to_chat_request({**body, "tool_choice": choice})
    assert chat["tool_choice"] == tool_choice
    assert "parallel_tool_calls" not in chat


def test_structured_output_and_system_role_messages_are_kept() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": "top",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "mid"}]},
        ],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    chat = messages_to_chat_request(body)
    assert chat["messages"][0] == {"role": "system", "content": "top"}
    assert chat["messages"][2] == {"role": "system", "content": "mid"}
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def _user(*blocks: str) -> str:
    return '{"messages": [{"role": "user", "content": [' + ", ".join(blocks) + "]}]}"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ('{"thinking": {"type": "enabled", "budget_tokens": 2048}}', "thinking"),
        ('{"service_tier": "auto"}', "service_tier"),
        ('{"max_tokens": null}', "max_tokens"),
        ('{"metadata": {"user_id": "u", "team": "x"}}', "metadata.team"),
        ('{"tools": [{"type": "web_search_20250305", "name": "web_search"}]}', "tools.0.type"),
        (
            '{"tools": [{"name": "f", "input_schema": {}, "input_examples": [{}]}]}',
            "tools.0.input_examples",
        ),
        ('{"tool_choice": {"type": "sometimes"}}', "tool_choice.type"),
        ('{"output_config": {"effort": "high"}}', "output_config.effort"),
        (_user('{"type": "document", "source": {}}'), "messages.0.content.0.type"),
        (
            _user('{"type": "image", "source": {"type": "file", "file_id": "f"}}'),
            "messages.0.content.0.source.type",
        ),
        (
            _user('{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image"}]}'),
            "messages.0.content.0.content.0.type",
        ),
        (
            '{"messages": [{"role": "assistant", "content": '
            '[{"type": "thinking", "thinking": "hm", "signature": "s"}]}]}',
            "messages.0.content.0.type",
        ),
        (
            _user('{"type": "text", "text": "hi", "citations": [{}]}'),
            "messages.0.content.0.citations",
        ),
        (_user(), "messages.0.content"),
        ('{"messages": [{"role": "robot", "content": "hi"}]}', "messages.0.role"),
    ],
)
def test_anthropic_features_without_an_openai_equivalent_are_refused(
    change: str, param: str
) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert refused(messages_to_chat_request, {**body, **json.loads(change)}) == param


def test_cache_control_hints_are_accepted() -> None:
    ephemeral = {"type": "ephemeral"}
    text = {"type": "text", "text": "hi", "cache_control": ephemeral}
    tool = {"name": "f", "input_schema": {"type": "object"}, "cache_control": ephemeral}
    body = {
        "model": "m",
        "max_tokens": 5,
        "cache_control": ephemeral,
        "messages": [{"role": "user", "content": [text]}],
        "tools": [tool],
    }
    chat = messages_to_chat_request(body)
    assert chat["messages"] == [{"role": "user", "content": "hi"}]
    function = {"name": "f", "parameters": {"type": "object"}}
    assert chat["tools"] == [{"type": "function", "function": function}]


# --- round trip and properties -----------------------------------------------------------


def _normalized(request: Json) -> Json:
    system = request.get("system")
    messages = [
        {"role": m["role"], "content": content_blocks(m["content"])} for m in request["messages"]
    ]
    return {
        "system": content_blocks(system) if system else [],
        "messages": messages,
        "tools": request.get("tools", []),
    }


def test_anthropic_request_survives_a_round_trip_through_chat() -> None:
    body = json.loads(ANTHROPIC_REQUEST)
    back = chat_to_messages_request(messages_to_chat_request(body), body["model"], 1)
    expected = _normalized(body)
    expected["system"][0].pop("cache_control")
    assert _normalized(back) == expected
    kept = ("max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "stream")
    for key in ("tool_choice", *kept):
        assert back[key] == body[key]


@st.composite
def anthropic_requests(draw: st.DrawFn) -> Json:
    """Alternating turns; assistants may call tools, the next user turn answers every call."""
    names = draw(st.lists(NAME, min_size=1, max_size=3, unique=True))
    messages: list[Json] = []
    pending: list[str] = []
    for turn in range(draw(st.integers(1, 4))):
        texts = [{"type": "text", "text": t} for t in draw(st.lists(TEXT, max_size=2))]
        results = [
            {"type": "tool_result", "tool_use_id": i, "content": draw(TEXT)} for i in pending
        ]
        user: list[Json] | str = results + texts or draw(TEXT)
        messages.append({"role": "user", "content": user})
        pending = [f"toolu_{turn}_{k}" for k in range(draw(st.integers(0, 2)))]
        calls = [
            {
                "type": "tool_use",
                "id": i,
                "name": draw(st.sampled_from(names)),
                "input": draw(ARGS),
            }
            for i in pending
        ]
        replies = [{"type": "text", "text": t} for t in draw(st.lists(TEXT, max_size=2))]
        assistant: list[Json] | str = replies + calls or draw(TEXT)
        messages.append({"role": "assistant", "content": assistant})
    tools = [
        {"name": n, "description": draw(TEXT), "input_schema": {"type": "object"}} for n in names
    ]
    body = {"model": "claude", "max_tokens": 64, "messages": messages, "tools": tools}
    if draw(st.booleans()):
        body["system"] = draw(TEXT)
    return body


@settings(max_examples=150, deadline=None)
@given(anthropic_requests())
def test_property_anthropic_to_chat_keeps_text_tools_and_ids(body: Json) -> None:
    chat = messages_to_chat_request(copy.deepcopy(body))
    chat_texts = [t for m in chat["messages"] for t in texts_in(m.get("content"))]
    for message in body["messages"]:
        blocks = content_blocks(message["content"])
        for text in texts_in(blocks) + [b["content"] for b in blocks if b["type"] == "tool_result"]:
            assert text in chat_texts
    assert [t["function"]["name"] for t in chat["tools"]] == [t["name"] for t in body["tools"]]
    sent = [
        b for m in body["messages"] for b in content_blocks(m["content"]) if b["type"] == "tool_use"
    ]
    calls = [c for m in chat["messages"] for c in m.get("tool_calls", [])]
    called = [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
    ]
    assert called == [(b["id"], b["name"], b["input"]) for b in sent]
    roles = [m["role"] for m in chat["messages"]]
    assert all(b != "tool" or a in ("assistant", "tool") for a, b in itertools.pairwise(roles))
    answered = [m["tool_call_id"] for m in chat["messages"] if m["role"] == "tool"]
    assert answered == [c["id"] for c in calls[: len(answered)]]
    back = chat_to_messages_request(chat, "claude", 1)
    assert _normalized(back) == _normalized(body)

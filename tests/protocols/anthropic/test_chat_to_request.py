"""OpenAI chat requests in: the Anthropic Messages request for one, recorded examples and a
property test that nothing is lost."""

import copy
import itertools
import json
from typing import Any
from unittest.mock import ANY

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.protocols.anthropic import chat_to_messages_request
from gatewayz.protocols.anthropic.json_mode import json_tool
from gatewayz.protocols.fields import Dropped
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

# --- OpenAI chat request -> Anthropic request --------------------------------------------

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}

# OpenAI's "Functions" request example, continued with the calls, their results and images.
OPENAI_REQUEST = """{
  "model": "gpt-5.4",
  "messages": [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "system", "content": [{"type": "text", "text": "Use tools."}]},
    {"role": "user", "content": "What is the weather like in Boston today?"},
    {"role": "assistant", "content": null, "refusal": null, "annotations": [], "tool_calls": [
      {"id": "call_abc123", "type": "function", "function": {
        "name": "get_current_weather", "arguments": "{\\n\\"location\\": \\"Boston, MA\\"\\n}"}},
      {"id": "call_def456", "type": "function", "function": {
        "name": "get_current_weather", "arguments": ""}}]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "22 C"},
    {"role": "tool", "tool_call_id": "call_def456",
     "content": [{"type": "text", "text": "no location"}]},
    {"role": "user", "content": [
      {"type": "text", "text": "And these?"},
      {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ",
                                          "detail": "high"}},
      {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}],
  "tools": [{"type": "function", "function": {
    "name": "get_current_weather", "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "required": ["location"], "properties": {
      "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}],
  "tool_choice": "auto", "parallel_tool_calls": false, "max_completion_tokens": 300,
  "stop": "END", "temperature": 0.5, "user": "user-1", "stream": true,
  "stream_options": {"include_usage": true}, "n": 1
}"""

EXPECTED_ANTHROPIC_REQUEST = """{
  "model": "claude-sonnet-4-5", "max_tokens": 300,
  "system": [{"type": "text", "text": "Answer briefly."}, {"type": "text", "text": "Use tools."}],
  "messages": [
    {"role": "user", "content": "What is the weather like in Boston today?"},
    {"role": "assistant", "content": [
      {"type": "tool_use", "id": "call_abc123", "name": "get_current_weather",
       "input": {"location": "Boston, MA"}},
      {"type": "tool_use", "id": "call_def456", "name": "get_current_weather", "input": {}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "call_abc123", "content": "22 C"},
      {"type": "tool_result", "tool_use_id": "call_def456",
       "content": [{"type": "text", "text": "no location"}]},
      {"type": "text", "text": "And these?"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                   "data": "/9j/4AAQ"}},
      {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}],
  "temperature": 0.5, "stream": true, "stop_sequences": ["END"],
  "metadata": {"user_id": "user-1"},
  "tools": [{"name": "get_current_weather",
             "description": "Get the current weather in a given location",
             "input_schema": {"type": "object", "required": ["location"], "properties": {
               "location": {"type": "string",
                            "description": "The city and state, e.g. San Francisco, CA"},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}],
  "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}
}"""


def test_openai_request_becomes_the_equivalent_anthropic_request() -> None:
    body = json.loads(OPENAI_REQUEST)
    validate("CreateChatCompletionRequest", body)
    request = chat_to_messages_request(body, "claude-sonnet-4-5", 4096)
    assert request == json.loads(EXPECTED_ANTHROPIC_REQUEST)


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_maps_to_anthropic(tool_choice: Any, expected: Json) -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": tool_choice,
    }
    request = chat_to_messages_request(body, "claude", 100)
    assert request["tool_choice"] == expected
    assert request["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert request["max_tokens"] == 100


def test_consecutive_messages_of_one_role_are_merged_and_empty_text_skipped() -> None:
    schema = {"type": "object"}
    body = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b"}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
        ],
        "max_tokens": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    request = chat_to_messages_request(body, "claude", 100)
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": t} for t in "abc"]},
        {"role": "assistant", "content": "no"},
    ]
    assert request["max_tokens"] == 7
    assert request["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


def _message(message: str) -> str:
    return '{"messages": [' + message + "]}"


def _calling(arguments: str) -> str:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return _message(json.dumps({"role": "assistant", "tool_calls": [call]}))


def _image(url: str) -> str:
    part = {"type": "image_url", "image_url": {"url": url}}
    return _message(json.dumps({"role": "user", "content": [part]}))


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ('{"n": 2}', "n"),
        ('{"logprobs": true}', "logprobs"),
        ('{"top_logprobs": 3}', "top_logprobs"),
        ('{"presence_penalty": 0.5}', "presence_penalty"),
        ('{"frequency_penalty": -1}', "frequency_penalty"),
        ('{"seed": 7}', "seed"),
        ('{"logit_bias": {"50256": -100}}', "logit_bias"),
        ('{"temperature": 1.5}', "temperature"),
        ('{"reasoning_effort": "extreme"}', "reasoning_effort"),
        (
            '{"response_format": {"type": "json_schema",'
            ' "json_schema": {"name": "x", "description": "d", "schema": {}}}}',
            "response_format.json_schema.description",
        ),
        ('{"tool_choice": {"type": "allowed_tools", "allowed_tools": {}}}', "tool_choice"),
        ('{"tools": [{"type": "custom", "custom": {"name": "x"}}]}', "tools.0.type"),
        (_message('{"role": "user", "content": "hi", "name": "bob"}'), "messages.0.name"),
        (
            _message('{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}'),
            "messages.0.content.0.type",
        ),
        (_image("data:application/pdf;base64,JVBER"), "messages.0.content.0.image_url.url"),
        (_image("ftp://example.com/y.png"), "messages.0.content.0.image_url.url"),
        (_message('{"role": "function", "name": "f", "content": "1"}'), "messages.0.role"),
        (_calling("{oops"), "messages.0.tool_calls.0.function.arguments"),
        (_calling("[1]"), "messages.0.tool_calls.0.function.arguments"),
        (
            _message('{"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}'),
            "messages.0.function_call",
        ),
        (_message('{"role": "system", "content": "only a system prompt"}'), "messages"),
    ],
)
def test_openai_features_without_an_anthropic_equivalent_are_refused(
    change: str, param: str
) -> None:
    body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], **json.loads(change)}
    assert refused(chat_to_messages_request, body, "claude", 100) == param


def test_reasoning_effort_is_a_hint_left_out_and_named() -> None:
    dropped = Dropped("claude")
    body = {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}
    assert chat_to_messages_request(body, "claude", 100, dropped) == {
        "model": "claude",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert dropped.paths == ["reasoning_effort"]


def test_neutral_values_of_unsupported_options_are_accepted() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        **{
            "n": 1,
            "logprobs": False,
            "presence_penalty": 0,
            "frequency_penalty": 0.0,
            "seed": None,
        },
        **{"store": False, "metadata": {"a": "b"}, "response_format": {"type": "text"}},
    }
    dropped = Dropped()
    assert chat_to_messages_request(body, "claude", 100, dropped) == {
        "model": "claude",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert dropped.paths == ["metadata"]


def test_hints_without_an_anthropic_field_are_named() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok", "reasoning_content": "They said hi."},
            {"role": "user", "content": "bye"},
        ],
        "store": True,
        "prompt_cache_key": "k",
        "service_tier": "flex",
        "user": "u1",
        "safety_identifier": "s1",
        "stream_options": {"include_usage": True},
    }
    dropped = Dropped()
    request = chat_to_messages_request(body, "claude", 100, dropped)
    assert request["metadata"] == {"user_id": "s1"}
    assert request["messages"][1] == {"role": "assistant", "content": "ok"}
    assert dropped.paths == [
        "messages.1.reasoning_content",
        "user",
        "store",
        "prompt_cache_key",
        "service_tier",
    ]


def test_cache_control_on_parts_is_kept_as_a_breakpoint() -> None:
    cached = {"type": "ephemeral", "ttl": "1h"}
    body = {
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "Rules.", "cache_control": cached}],
            },
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": cached}]},
        ]
    }
    request = chat_to_messages_request(body, "claude", 100)
    assert request["system"] == [{"type": "text", "text": "Rules.", "cache_control": cached}]
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": cached}]}
    ]


@pytest.mark.parametrize(
    ("effort", "max_tokens", "budget"),
    [
        ("minimal", 64_000, 1024),
        ("low", 64_000, 1024),
        ("medium", 64_000, 8192),
        ("high", 64_000, 24576),
        ("xhigh", 64_000, 32000),  # at most half of max_tokens
        ("high", 4096, 2048),
        ("low", 1500, 1024),  # at least Anthropic's minimum
    ],
)
def test_reasoning_effort_becomes_a_thinking_budget_inside_max_tokens(
    effort: str, max_tokens: int, budget: int
) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": effort}
    dropped = Dropped()
    request = chat_to_messages_request({**body, "max_tokens": max_tokens}, "claude", 100, dropped)
    assert request["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert request["max_tokens"] == max_tokens
    assert dropped.paths == []


@pytest.mark.parametrize(
    "change",
    [
        {"max_tokens": 1024},
        {"temperature": 0.2},
        {"top_k": 5},
        {"top_p": 0.5},
        {"tools": TOOLS, "tool_choice": "required"},
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
            "tools": TOOLS,
        },
    ],
)
def test_reasoning_effort_anthropic_refuses_with_the_request_is_dropped(change: Json) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low", **change}
    dropped = Dropped()
    assert "thinking" not in chat_to_messages_request(body, "claude", 4096, dropped)
    assert dropped.paths == ["reasoning_effort"]
    none = {**body, "reasoning_effort": "none"}
    assert "thinking" not in chat_to_messages_request(none, "claude", 4096, Dropped())


def test_json_mode_is_a_forced_tool() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object"},
    }
    request = chat_to_messages_request(body, "claude", 100)
    assert request["tools"] == [
        {"name": "json_answer", "description": ANY, "input_schema": {"type": "object"}}
    ]
    assert request["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert "output_config" not in request
    assert json_tool(body) == "json_answer"
    with_tools = {
        **body,
        "tools": [{**TOOLS[0], "function": {**TOOLS[0]["function"], "name": "json_answer"}}],
    }
    request = chat_to_messages_request(with_tools, "claude", 100)
    assert [t["name"] for t in request["tools"]] == ["json_answer", "json_answer_"]
    assert request["tool_choice"] == {"type": "any"}
    assert json_tool(with_tools) == "json_answer_"
    forced = {**with_tools, "tool_choice": "required"}
    assert json_tool(forced) is None
    request = chat_to_messages_request(forced, "claude", 100)
    assert [t["name"] for t in request["tools"]] == ["json_answer"]
    effort = {**body, "reasoning_effort": "high"}
    dropped = Dropped()
    assert "thinking" not in chat_to_messages_request(effort, "claude", 4096, dropped)
    assert dropped.paths == ["reasoning_effort"]


# --- properties --------------------------------------------------------------------------


@st.composite
def chat_requests(draw: st.DrawFn) -> Json:
    """OpenAI conversations with system prompts, parts, parallel tool calls and results."""
    names = draw(st.lists(NAME, min_size=1, max_size=3, unique=True))
    messages: list[Json] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(TEXT)}
        )
    for turn in range(draw(st.integers(1, 4))):
        parts = draw(st.lists(TEXT, min_size=1, max_size=2))
        content = parts[0] if len(parts) == 1 else [{"type": "text", "text": t} for t in parts]
        messages.append({"role": "user", "content": content})
        calls = [
            {
                "id": f"call_{turn}_{k}",
                "type": "function",
                "function": {
                    "name": draw(st.sampled_from(names)),
                    "arguments": json.dumps(draw(ARGS)),
                },
            }
            for k in range(draw(st.integers(0, 2)))
        ]
        text = draw(st.one_of(st.none(), TEXT)) if calls else draw(TEXT)
        messages.append(
            {"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})}
        )
        messages += [
            {"role": "tool", "tool_call_id": c["id"], "content": draw(TEXT)} for c in calls
        ]
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in names
    ]
    return {"model": "gpt", "messages": messages, "tools": tools}


@settings(max_examples=150, deadline=None)
@given(chat_requests())
def test_property_chat_to_anthropic_keeps_text_tools_and_ids(body: Json) -> None:
    request = chat_to_messages_request(copy.deepcopy(body), "claude", 256)
    blocks = [b for m in request["messages"] for b in content_blocks(m["content"])]
    kept = [b["text"] for b in request.get("system", [])] + texts_in(blocks)
    kept += [b["content"] for b in blocks if b["type"] == "tool_result"]
    for message in body["messages"]:
        for text in texts_in(message.get("content")):
            assert text in kept
    assert [t["name"] for t in request["tools"]] == [t["function"]["name"] for t in body["tools"]]
    calls = [c for m in body["messages"] for c in m.get("tool_calls", [])]
    uses = [(b["id"], b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"]
    assert uses == [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
    ]
    results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
    assert results == [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    roles = [m["role"] for m in request["messages"]]
    assert all(a != b for a, b in itertools.pairwise(roles))

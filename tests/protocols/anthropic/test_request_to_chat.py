"""Anthropic Messages requests in: the OpenAI chat request for one, recorded examples, a
round trip back and a property test that nothing is lost."""

import copy
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.anthropic import chat_to_messages_request, messages_to_chat_request
from gatewayz.protocols.anthropic.signature import Reasoning, sign
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
        ('{"thinking": {"type": "sometimes"}}', "thinking.type"),
        ('{"thinking": {"type": "enabled"}}', "thinking.budget_tokens"),
        ('{"output_config": {"effort": "extreme"}}', "output_config.effort"),
        ('{"max_tokens": null}', "max_tokens"),
        ('{"metadata": {"user_id": 7}}', "metadata.user_id"),
        (
            '{"tools": [{"type": "web_search_20250305", "name": "web_search"}], '
            '"tool_choice": {"type": "tool", "name": "web_search"}}',
            "tools.0.type",
        ),
        (
            '{"tools": [{"type": "web_search_20250305", "name": "web_search"}], '
            '"tool_choice": {"type": "any"}}',
            "tool_choice",
        ),
        ('{"tool_choice": {"type": "sometimes"}}', "tool_choice.type"),
        (_user('{"type": "document", "source": {}}'), "messages.0.content.0.type"),
        (
            _user('{"type": "image", "source": {"type": "file", "file_id": "f"}}'),
            "messages.0.content.0.source.type",
        ),
        (
            _user('{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document"}]}'),
            "messages.0.content.0.content.0.type",
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
    dropped = Dropped()
    chat = messages_to_chat_request(body, dropped)
    assert chat["messages"] == [{"role": "user", "content": "hi"}]
    function = {"name": "f", "parameters": {"type": "object"}}
    assert chat["tools"] == [{"type": "function", "function": function}]
    assert dropped.paths == [
        "cache_control",
        "messages.0.content.0.cache_control",
        "tools.0.cache_control",
    ]


# What Claude Code 2.1 sends (POST /v1/messages?beta=true), its prompts and schemas cut short.
CLAUDE_CODE_REQUEST = """{
  "model": "fake/fake-model", "max_tokens": 32000, "stream": true,
  "system": [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332;"},
    {"type": "text", "text": "You are a Claude agent.", "cache_control": {"type": "ephemeral"}},
    {"type": "text", "text": "You are an agent.", "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": [
      {"type": "text", "text": "<system-reminder>Attribution</system-reminder>"},
      {"type": "text", "text": "say hi"}]},
    {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "", "signature": "EqQBCkYIBxgCKkD"},
      {"type": "text", "text": "Running it.", "citations": null},
      {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "echo hi"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_1", "content": "hi", "is_error": false,
       "cache_control": {"type": "ephemeral"}}]}],
  "tools": [
    {"name": "Bash", "description": "Run a command.",
     "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                      "type": "object", "properties": {"command": {"type": "string"}},
                      "required": ["command"]}},
    {"name": "DeferredToolPlaceholder", "description": "Never call this tool.",
     "input_schema": {"type": "object", "properties": {}}, "defer_loading": true}],
  "metadata": {"user_id": "{\\"device_id\\":\\"c5ca\\",\\"session_id\\":\\"9317\\"}"},
  "thinking": {"type": "adaptive", "display": "omitted"},
  "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
  "output_config": {"effort": "high"}
}"""


def test_what_claude_code_sends_is_mapped_and_its_hints_named() -> None:
    body = json.loads(CLAUDE_CODE_REQUEST)
    dropped = Dropped("fake")
    chat = messages_to_chat_request(body, dropped, reasoning_for="fake")
    validate("CreateChatCompletionRequest", chat)
    assert "reasoning_effort" not in chat  # adaptive thinking at effort high: the default
    assert chat["user"] == body["metadata"]["user_id"]
    assert [t["function"]["name"] for t in chat["tools"]] == ["Bash"]
    assert [m["role"] for m in chat["messages"]] == [
        "system",
        "user",
        "system",
        "assistant",
        "tool",
    ]
    assert chat["messages"][3]["content"] == "Running it."
    assert "reasoning_content" not in chat["messages"][3]  # Anthropic's own thinking
    assert chat["messages"][4] == {"role": "tool", "tool_call_id": "toolu_1", "content": "hi"}
    assert dropped.paths == [
        "system.1.cache_control",
        "system.2.cache_control",
        "messages.*.content.*.thinking",
        "messages.3.content.0.cache_control",
        "context_management",
        "tools.1",
    ]
    strict = Dropped("strict", strict=True)
    with pytest.raises(InvalidRequest) as caught:
        messages_to_chat_request(body, strict)
    assert caught.value.param == "system.1.cache_control"


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({"thinking": {"type": "adaptive"}}, None),  # Anthropic's default: the upstream's
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}, None),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, "low"),
        ({"output_config": {"effort": "medium"}}, "medium"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "xhigh"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 8192}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 8193}}, "high"),
        ({"thinking": {"type": "enabled", "budget_tokens": 9000}, "output_config": {}}, "high"),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 2000},
                "output_config": {"effort": "high"},
            },
            "medium",
        ),
        ({"thinking": {"type": "disabled"}}, None),
        ({}, None),
    ],
)
def test_thinking_and_effort_become_reasoning_effort(fields: Json, effort: str | None) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    dropped = Dropped()
    chat = messages_to_chat_request({**body, **fields}, dropped)
    assert chat.get("reasoning_effort") == effort
    assert dropped.paths == []


def test_an_effort_without_thinking_is_dropped() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "disabled"},
        "output_config": {"effort": "low"},
    }
    dropped = Dropped()
    assert "reasoning_effort" not in messages_to_chat_request(body, dropped)
    assert dropped.paths == ["output_config.effort"]


def _thinking(provider: str, field: str, text: str) -> Json:
    return {"type": "thinking", "thinking": "", "signature": sign(Reasoning(provider, field, text))}


def test_thinking_goes_back_as_reasoning_only_to_the_provider_that_wrote_it() -> None:
    call = {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [
                    _thinking("deepseek", "reasoning_content", "First "),
                    _thinking("deepseek", "reasoning_content", "then."),
                    call,
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1"}]},
            {"role": "assistant", "content": [_thinking("router", "reasoning", "Hm.")]},
            {"role": "user", "content": "and?"},
            {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]},
            {"role": "user", "content": "well?"},
        ],
    }
    dropped = Dropped()
    chat = messages_to_chat_request(body, dropped, reasoning_for="deepseek")
    assistant = chat["messages"][1]
    assert assistant["reasoning_content"] == "First then."
    assert assistant["tool_calls"][0]["id"] == "c1"
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant", "tool", "user", "user"]
    assert dropped.paths == [
        "messages.*.content.*.thinking",
        "messages.*.content.*.redacted_thinking",
    ]
    elsewhere = Dropped()
    chat = messages_to_chat_request(body, elsewhere, reasoning_for="gem")
    assert "reasoning_content" not in chat["messages"][1]
    assert elsewhere.paths == dropped.paths


def test_anthropic_tool_types_and_tool_hints_are_dropped() -> None:
    tool = {"name": "f", "input_schema": {"type": "object"}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"type": "web_search_20250305", "name": "web_search"},
            {**tool, "input_examples": [{"a": 1}], "eager_input_streaming": True},
            {"type": "bash_20250124", "name": "bash"},
        ],
        "tool_choice": {"type": "any"},
        "metadata": {"user_id": "u", "team": "x"},
        "service_tier": "priority",
    }
    dropped = Dropped()
    chat = messages_to_chat_request(body, dropped)
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]
    assert chat["tool_choice"] == "required"
    assert chat["user"] == "u"
    assert dropped.paths == [
        "metadata.team",
        "service_tier",
        "tools.0",
        "tools.1.input_examples",
        "tools.1.eager_input_streaming",
        "tools.2",
    ]
    only_server = {**body, "tools": body["tools"][:1], "tool_choice": {"type": "auto"}}
    chat = messages_to_chat_request(only_server, Dropped())
    assert "tools" not in chat and "tool_choice" not in chat


def test_tool_result_images_follow_the_tool_message() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    result = {
        "type": "tool_result",
        "tool_use_id": "c1",
        "content": [{"type": "text", "text": "a picture"}, image],
    }
    call = {"type": "tool_use", "id": "c1", "name": "Read", "input": {"file_path": "a.png"}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "look"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result, {"type": "text", "text": "what is it?"}]},
        ],
    }
    messages = messages_to_chat_request(body)["messages"]
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "a picture"}
    assert messages[3] == {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "text", "text": "what is it?"},
        ],
    }


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

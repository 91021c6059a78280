"""CreateResponse requests: the checks every route relies on, the settings a chat request
takes, and what only stored state or OpenAI's own tools could honour, refused by name."""

import json
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.responses import chat_to_response, parse_request, responses_to_chat_request
from tests.protocols.responses.helpers import (
    CREATED_AT,
    RESPONSE_ID,
    WEATHER,
    completion,
    refused,
    sdk_client,
)

# --- parse_request -------------------------------------------------------------------


def test_parse_request_keeps_the_body_for_native_routes() -> None:
    body = {"model": "gpt-x", "input": "hi", "tools": [{"type": "web_search"}], "stream": True}
    assert parse_request(json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{not json", None),
        (b"[1]", None),
        (b'{"input": "hi"}', "model"),
        (b'{"model": "m", "stream": "yes"}', "stream"),
        (b'{"model": "m", "max_output_tokens": 0}', "max_output_tokens"),
        (b'{"model": "m", "max_output_tokens": 1.5}', "max_output_tokens"),
    ],
)
def test_parse_request_refuses_what_no_route_can_serve(raw: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert caught.value.param == param


# --- the request -------------------------------------------------------------------------


def test_settings_are_translated() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    body = {
        "model": "gpt-x",
        "input": "hi",
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "max_output_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "text": {
            "format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True},
            "verbosity": "low",
        },
        "reasoning": {"effort": "low"},
        "metadata": {"trace": "t-1"},
        "stream": True,
        "store": False,
    }
    chat = responses_to_chat_request(body)
    del chat["messages"], chat["tools"]
    assert chat == {
        "model": "gpt-x",
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": True},
        },
        "verbosity": "low",
        "reasoning_effort": "low",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
        ),
    ],
)
def test_tool_choice(tool_choice: Any, expected: Any) -> None:
    body = {"model": "m", "input": "hi", "tools": [WEATHER], "tool_choice": tool_choice}
    assert responses_to_chat_request(body)["tool_choice"] == expected


def test_json_object_format_and_tool_settings_without_tools() -> None:
    body = {
        "model": "m",
        "input": "hi",
        "text": {"format": {"type": "json_object"}},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    chat = responses_to_chat_request(body)
    assert chat["response_format"] == {"type": "json_object"}
    assert "tool_choice" not in chat and "parallel_tool_calls" not in chat


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("store", False),
        ("background", False),
        ("truncation", "disabled"),
        ("include", []),
        ("previous_response_id", None),
        ("stream_options", {"include_obfuscation": False}),
        ("text", {"format": {"type": "text"}}),
    ],
)
def test_values_that_change_nothing_are_accepted(field: str, value: Any) -> None:
    chat = responses_to_chat_request({"model": "m", "input": "hi", field: value})
    assert chat == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "custom", "name": "apply_patch"}]}, "tools[0].type"),
        ({"tools": [{"type": "local_shell"}]}, "tools[0].type"),
        ({"tools": [WEATHER | {"defer_loading": True}]}, "tools[0].defer_loading"),
        ({"tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}}, "tool_choice"),
        (
            {
                "tools": [WEATHER, {"type": "web_search"}],
                "tool_choice": {
                    "type": "allowed_tools",
                    "mode": "required",
                    "tools": [{"type": "web_search"}],
                },
            },
            "tool_choice",
        ),
        ({"tools": [{"type": "web_search"}], "tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"store": True}, "store"),
        ({"include": ["message.output_text.logprobs"]}, "include[0]"),
        ({"include": ["reasoning.everything"]}, "include[0]"),
        ({"truncation": "auto"}, "truncation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"reasoning": {"effort": "low", "depth": 3}}, "reasoning.depth"),
        ({"stream_options": {"include_obfuscation": True}}, "stream_options"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format.type"),
    ],
)
def test_what_chat_completions_cannot_express_is_refused(body: dict[str, Any], param: str) -> None:
    error = refused({"model": "m", "input": "hi"} | body)
    assert (error.param, error.status) == (param, 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "", "input": "hi"}, "model"),
        ({"model": "m", "input": "hi", "temperature": "hot"}, "temperature"),
        ({"model": "m", "input": "hi", "stream": "yes"}, "stream"),
        ({"model": "m", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": "hi", "max_output_tokens": True}, "max_output_tokens"),
        ({"model": "m", "input": "hi", "tools": {"type": "function"}}, "tools"),
        ({"model": "m", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
    ],
)
def test_malformed_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    assert refused(body).param == param


def test_the_sdks_own_request_body_translates() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        chat = responses_to_chat_request(body)
        seen.append(chat)
        answer = completion('{"city": "Paris"}')
        return httpx2.Response(200, json=chat_to_response(answer, body, RESPONSE_ID, CREATED_AT))

    response = sdk_client(handler).responses.create(
        model="gpt-x",
        instructions="Be exact.",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "Where?"}]},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="auto",
        text={"format": {"type": "json_object"}},
        max_output_tokens=64,
        metadata={"k": "v"},
        store=False,
    )
    assert [m["role"] for m in seen[0]["messages"]] == ["system", "user", "assistant", "tool"]
    assert seen[0]["max_tokens"] == 64
    assert response.output_text == '{"city": "Paris"}'
    assert response.metadata == {"k": "v"}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_object"


# Every field of the spec's CreateResponse: each is translated, or refused with a reason.
CREATE_RESPONSE_FIELDS = frozenset(
    [
        "background",
        "context_management",
        "conversation",
        "include",
        "input",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "model",
        "moderation",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
    ]
)


# Sent by OpenAI's own clients beyond the spec (Codex): dropped and named.
CLIENT_FIELDS = frozenset(["client_metadata"])


@given(
    field=st.text(min_size=1, max_size=20).filter(
        lambda f: f not in CREATE_RESPONSE_FIELDS | CLIENT_FIELDS
    )
)
def test_unknown_fields_are_refused(field: str) -> None:
    error = refused({"model": "m", "input": "hi", field: 1})
    assert (error.param, error.message) == (field, f"Unknown parameter: '{field}'.")


@pytest.mark.parametrize("field", sorted(CREATE_RESPONSE_FIELDS))
def test_no_spec_field_is_unknown(field: str) -> None:
    try:
        responses_to_chat_request({"model": "m", "input": "hi", field: {"x": 1}})
    except InvalidRequest as error:
        assert not error.message.startswith("Unknown parameter")


# --- what Codex sends ----------------------------------------------------------------------

CODEX_BODY: dict[str, Any] = {
    "model": "m",
    "instructions": None,
    "input": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "developer",
            "content": [{"type": "input_text", "text": "You are a coding agent."}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    ],
    "tools": [WEATHER, {"type": "web_search", "external_web_access": False}],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning": {"effort": "high", "summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "thread-1",
    "client_metadata": {"session_id": "s-1", "x-codex-window-id": "w-1"},
    "text": {"verbosity": "low"},
}


@pytest.mark.parametrize("openai_format", [True, False])
def test_what_codex_sends_is_mapped_or_dropped_and_named(openai_format: bool) -> None:
    dropped = Dropped("up")
    chat = responses_to_chat_request(CODEX_BODY, dropped, openai_format)
    assert chat["messages"] == [
        {"role": "developer", "content": [{"type": "text", "text": "You are a coding agent."}]},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
    ]
    assert [tool["function"]["name"] for tool in chat["tools"]] == ["get_weather"]
    assert (chat["tool_choice"], chat["parallel_tool_calls"]) == ("auto", True)
    assert chat["reasoning_effort"] == "high"
    assert chat["stream_options"] == {"include_usage": True}
    assert "store" not in chat and "client_metadata" not in chat and "include" not in chat
    named = ["client_metadata", "include.0", "tools.1"]
    if openai_format:
        assert (chat["prompt_cache_key"], chat["verbosity"]) == ("thread-1", "low")
    else:
        assert "prompt_cache_key" not in chat and "verbosity" not in chat
        named += ["prompt_cache_key", "text.verbosity"]
    assert sorted(dropped.paths) == sorted(named)


def test_a_strict_row_refuses_what_codex_would_have_dropped() -> None:
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat_request(CODEX_BODY, Dropped("strict", strict=True))
    assert caught.value.param == "client_metadata"
    assert "strict_fields" in caught.value.message


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("metadata", {"ticket": "42"}, "metadata"),
        ("max_tool_calls", 3, "max_tool_calls"),
        (
            "context_management",
            [{"type": "compaction", "compact_threshold": 1000}],
            "context_management",
        ),
        ("include", ["web_search_call.action.sources", "reasoning.encrypted_content"], "include.1"),
        ("service_tier", "flex", "service_tier"),
    ],
)
def test_hints_without_a_chat_field_are_dropped_and_named(
    field: str, value: Any, name: str
) -> None:
    dropped = Dropped("up")
    chat = responses_to_chat_request({"model": "m", "input": "hi", field: value}, dropped, False)
    assert chat == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert name in dropped.paths


@pytest.mark.parametrize("summary", ["auto", "concise", "detailed", None])
def test_a_reasoning_summary_is_accepted(summary: str | None) -> None:
    """The reasoning an upstream returns is the summary the gateway sends back: nothing to
    leave out."""
    dropped = Dropped("up")
    body = {"model": "m", "input": "hi", "reasoning": {"summary": summary, "effort": "low"}}
    assert responses_to_chat_request(body, dropped)["reasoning_effort"] == "low"
    assert dropped.paths == []

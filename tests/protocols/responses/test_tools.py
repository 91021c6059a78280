"""Responses tools onto chat functions: a namespace's functions by `<namespace>__<name>` and
back, hosted tools dropped and named unless forced, and the names property-tested to map
back to what the client declared."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.responses import chat_to_response, responses_to_chat_request
from gatewayz.protocols.responses.tools import ToolNames
from tests.protocols.responses.helpers import (
    CREATED_AT,
    IDS,
    RESPONSE_ID,
    WEATHER,
    check_events,
    check_response,
    completion,
    run_stream,
    stream_chunks,
)

# As Codex 0.171 sends them (abridged): functions, a namespace of functions, web search.
AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Tools for spawning and managing sub-agents.",
    "tools": [
        {
            "type": "function",
            "name": "close_agent",
            "description": "Close an agent.",
            "strict": False,
            "parameters": {"type": "object", "properties": {"target": {"type": "string"}}},
        },
        {"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}},
    ],
}
EXEC = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command.",
    "strict": False,
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
}
WEB_SEARCH = {"type": "web_search", "external_web_access": False}
CODEX_TOOLS = [EXEC, AGENTS, WEB_SEARCH]


def translate(body: dict[str, Any]) -> tuple[dict[str, Any], Dropped]:
    dropped = Dropped("up")
    return responses_to_chat_request({"model": "m", "input": "hi", **body}, dropped), dropped


def test_codex_tools_reach_the_model_as_functions() -> None:
    chat, dropped = translate({"tools": CODEX_TOOLS, "tool_choice": "auto"})
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "exec_command",
                "description": "Runs a command.",
                "parameters": EXEC["parameters"],
                "strict": False,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "multi_agent_v1__close_agent",
                "description": "Tools for spawning and managing sub-agents.\n\nClose an agent.",
                "parameters": AGENTS["tools"][0]["parameters"],
                "strict": False,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "multi_agent_v1__spawn_agent",
                "description": "Tools for spawning and managing sub-agents.",
                "parameters": {"type": "object"},
            },
        },
    ]
    assert chat["tool_choice"] == "auto"
    assert dropped.paths == ["tools.2"]  # web_search: a hosted tool the chat model lacks


def test_a_namespaced_call_comes_back_with_its_namespace() -> None:
    request = {"model": "m", "input": "hi", "tools": CODEX_TOOLS}
    answer = completion(
        None,
        [
            ("call_1", "multi_agent_v1__close_agent", '{"target": "a1"}'),
            ("call_2", "exec_command", "{}"),
        ],
        "tool_calls",
    )
    response = chat_to_response(answer, request, RESPONSE_ID, CREATED_AT)
    parsed = check_response(response)
    first, second = response["output"]
    assert (first["namespace"], first["name"], first["call_id"]) == (
        "multi_agent_v1",
        "close_agent",
        "call_1",
    )
    assert "namespace" not in second and second["name"] == "exec_command"
    assert [tool.type for tool in parsed.tools] == ["function", "namespace"]  # no web_search

    calls = [("call_1", "multi_agent_v1__close_agent", ['{"target"', ': "a1"}'])]
    events = run_stream(request, stream_chunks([], calls, "tool_calls"))
    check_events(events)
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [(i["namespace"], i["name"]) for i in added + done] == [
        ("multi_agent_v1", "close_agent")
    ] * 2
    assert events[-1]["response"]["output"] == done


@pytest.mark.parametrize(
    "tool",
    [
        WEB_SEARCH,
        {"type": "web_search_preview"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "mcp", "server_label": "x", "server_url": "https://x"},
        {"type": "image_generation"},
        {"type": "computer_use_preview", "display_width": 1, "display_height": 1},
        {"type": "shell", "environment": {"type": "container_auto"}},
    ],
)
def test_a_hosted_tool_is_dropped_unless_forced(tool: dict[str, Any]) -> None:
    chat, dropped = translate({"tools": [WEATHER, tool]})
    assert [t["function"]["name"] for t in chat["tools"]] == ["get_weather"]
    assert dropped.paths == ["tools.1"]
    with pytest.raises(InvalidRequest) as caught:
        translate({"tools": [WEATHER, tool], "tool_choice": {"type": tool["type"]}})
    assert caught.value.param == "tool_choice"
    with pytest.raises(InvalidRequest) as strict:
        responses_to_chat_request(
            {"model": "m", "input": "hi", "tools": [tool]}, Dropped("up", strict=True)
        )
    assert strict.value.param == "tools.0"


def test_allowed_tools_keep_their_functions_and_drop_hosted_ones() -> None:
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "exec_command"}, {"type": "web_search"}],
    }
    chat, dropped = translate({"tools": CODEX_TOOLS, "tool_choice": choice})
    assert chat["tool_choice"] == {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": "exec_command"}}],
        },
    }
    assert dropped.paths == ["tools.2", "tool_choice.tools.1"]
    namespace = {
        "type": "allowed_tools",
        "mode": "auto",
        "tools": [{"type": "namespace", "name": "multi_agent_v1"}],
    }
    chat, _ = translate({"tools": CODEX_TOOLS, "tool_choice": namespace})
    allowed = chat["tool_choice"]["allowed_tools"]["tools"]
    assert [t["function"]["name"] for t in allowed] == [
        "multi_agent_v1__close_agent",
        "multi_agent_v1__spawn_agent",
    ]


def test_a_namespace_may_only_hold_functions() -> None:
    custom = {**AGENTS, "tools": [{"type": "custom", "name": "apply_patch"}]}
    with pytest.raises(InvalidRequest) as caught:
        translate({"tools": [custom]})
    assert caught.value.param == "tools[0].tools[0].type"


def test_long_or_taken_names_are_shortened_and_still_map_back() -> None:
    long = {
        "type": "namespace",
        "name": "n" * 40,
        "description": "d",
        "tools": [{**WEATHER, "name": "w" * 40}],
    }
    taken = {"type": "namespace", "name": "crm", "description": "d", "tools": [WEATHER]}
    clash = {**WEATHER, "name": "crm__get_weather"}
    names = ToolNames([long, clash, taken])
    long_name = names.chat("n" * 40, "w" * 40)
    assert len(long_name) == 64 and names.responses(long_name) == ("n" * 40, "w" * 40)
    assert names.chat(None, "crm__get_weather") == "crm__get_weather"
    shortened = names.chat("crm", "get_weather")
    assert shortened != "crm__get_weather" and names.responses(shortened) == ("crm", "get_weather")


@given(
    spaces=st.dictionaries(IDS, st.lists(IDS, min_size=1, max_size=3, unique=True), max_size=3),
    functions=st.lists(IDS, max_size=3, unique=True),
)
def test_every_declared_function_has_its_own_chat_name(
    spaces: dict[str, list[str]], functions: list[str]
) -> None:
    tools: list[dict[str, Any]] = [{"type": "function", "name": f} for f in functions]
    tools += [
        {
            "type": "namespace",
            "name": space,
            "description": "d",
            "tools": [{"type": "function", "name": f} for f in inner],
        }
        for space, inner in spaces.items()
    ]
    names = ToolNames(tools)
    declared = [(None, f) for f in functions] + [
        (s, f) for s, inner in spaces.items() for f in inner
    ]
    chat_names = [names.chat(space, name) for space, name in declared]
    assert len(set(chat_names)) == len(declared)
    assert all(len(name) <= 64 for name in chat_names)
    assert [names.responses(name) for name in chat_names] == declared

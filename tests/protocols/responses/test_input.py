"""The `input` of a CreateResponse as chat messages: items, content parts, function calls
and their outputs, and a property test that no text or call id is lost."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.responses import responses_to_chat_request
from tests.protocols.responses.helpers import IDS, WEATHER, refused


def test_string_input_becomes_one_user_message() -> None:
    chat = responses_to_chat_request({"model": "gpt-x", "input": "Say hi"})
    assert chat == {"model": "gpt-x", "messages": [{"role": "user", "content": "Say hi"}]}


def test_instructions_and_multi_turn_input_with_an_image() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    body = {
        "model": "gpt-x",
        "instructions": "Answer in French.",
        "input": [
            {"role": "developer", "content": "Be brief."},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this picture?"},
                    {"type": "input_image", "image_url": image, "detail": "low"},
                ],
            },
            {  # an earlier output item sent back as it came
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "Un chat.", "annotations": [], "logprobs": []}
                ],
            },
            {"role": "user", "content": "Quelle couleur ?"},
        ],
    }
    assert responses_to_chat_request(body)["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Un chat."}]},
        {"role": "user", "content": "Quelle couleur ?"},
    ]


def test_function_call_round_trip_keeps_call_ids() -> None:
    body = {
        "model": "gpt-x",
        "input": [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {"type": "message", "role": "assistant", "content": "Checking both."},
            {
                "type": "function_call",
                "call_id": "call_p",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {
                "type": "function_call",
                "call_id": "call_o",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
                "id": "fc_2",
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "call_p", "output": "18C"},
            {
                "type": "function_call_output",
                "call_id": "call_o",
                "output": [{"type": "input_text", "text": "4C"}],
            },
        ],
        "tools": [WEATHER],
    }
    chat = responses_to_chat_request(body)
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": "call_p",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_o",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_p", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_o", "content": [{"type": "text", "text": "4C"}]},
    ]
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city.",
                "parameters": WEATHER["parameters"],
                "strict": False,
            },
        }
    ]


def test_function_calls_without_text_start_their_own_assistant_message() -> None:
    chat = responses_to_chat_request(
        {
            "model": "gpt-x",
            "input": [
                {"role": "user", "content": "hi"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            ],
        }
    )
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert chat["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [call]}


def _user(part: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "input": [{"role": "user", "content": [part]}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"type": "reasoning", "id": "rs_1", "summary": []}]}, "input"),
        (
            {"input": [{"role": "assistant", "content": "x", "phase": "commentary"}]},
            "input[0].phase",
        ),
        (
            _user({"type": "input_image", "file_id": "file_1", "detail": "auto"}),
            "input[0].content[0].file_id",
        ),
        (
            _user({"type": "input_image", "image_url": "https://x/a.png", "detail": "original"}),
            "input[0].content[0].detail",
        ),
        (
            _user({"type": "input_file", "file_url": "https://x/a.pdf"}),
            "input[0].content[0].file_url",
        ),
        (
            {
                "input": [
                    {
                        "role": "system",
                        "content": [{"type": "input_image", "image_url": "https://x/a.png"}],
                    }
                ]
            },
            "input[0].content[0].type",
        ),
        (
            {
                "input": [
                    {
                        "role": "assistant",
                        "content": [{"type": "input_image", "image_url": "https://x"}],
                    }
                ]
            },
            "input[0].content[0].type",
        ),
    ],
)
def test_input_chat_completions_cannot_express_is_refused(body: dict[str, Any], param: str) -> None:
    error = refused({"model": "m", "input": "hi"} | body)
    assert (error.param, error.status) == (param, 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": 7}, "input"),
        ({"model": "m", "input": ["hi"]}, "input[0]"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": "user", "content": 5}]}, "input[0].content"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text",
        ),
        (
            {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        (
            {
                "model": "m",
                "input": [{"type": "function_call_output", "call_id": "c", "output": 3}],
            },
            "input[0].output",
        ),
    ],
)
def test_malformed_input_names_the_field(body: dict[str, Any], param: str) -> None:
    assert refused(body).param == param


# --- properties --------------------------------------------------------------------------

_text = st.text(max_size=12)


@st.composite
def _input_items(draw: st.DrawFn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for kind in draw(
        st.lists(st.sampled_from(["message", "call", "output"]), min_size=1, max_size=8)
    ):
        if kind == "message":
            role = draw(st.sampled_from(["user", "assistant", "system", "developer"]))
            part = "output_text" if role == "assistant" else "input_text"
            texts = draw(st.lists(_text, max_size=3))
            content: Any = (
                draw(_text) if draw(st.booleans()) else [{"type": part, "text": t} for t in texts]
            )
            items.append(
                {"role": role, "content": content}
                | ({"type": "message"} if draw(st.booleans()) else {})
            )
        elif kind == "call":
            items.append(
                {
                    "type": "function_call",
                    "call_id": draw(IDS),
                    "name": draw(IDS),
                    "arguments": draw(_text),
                }
            )
        else:
            items.append(
                {"type": "function_call_output", "call_id": draw(IDS), "output": draw(_text)}
            )
    return items


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content or []]


@settings(max_examples=150, deadline=None)
@given(
    items=_input_items(),
    names=st.lists(IDS, max_size=4, unique=True),
    instructions=st.none() | _text.filter(bool),
)
def test_translation_keeps_every_text_tool_and_call_id(
    items: list[dict[str, Any]], names: list[str], instructions: str | None
) -> None:
    tools = [{"type": "function", "name": n, "parameters": None, "strict": None} for n in names]
    body = {"model": "m", "input": items, "tools": tools, "instructions": instructions}
    chat = responses_to_chat_request(body)
    messages = chat["messages"]
    if instructions:
        assert messages.pop(0) == {"role": "system", "content": instructions}
    sent = [t for i in items if i.get("role") for t in _texts(i["content"])]
    sent_outputs = [i["output"] for i in items if i.get("type") == "function_call_output"]
    assert [t for m in messages if m["role"] != "tool" for t in _texts(m["content"])] == sent
    assert [m["content"] for m in messages if m["role"] == "tool"] == sent_outputs
    calls = [c for m in messages for c in m.get("tool_calls", [])]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        (i["call_id"], i["name"], i["arguments"]) for i in items if i.get("type") == "function_call"
    ]
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == [
        i["call_id"] for i in items if i.get("type") == "function_call_output"
    ]
    assert [t["function"]["name"] for t in chat.get("tools", [])] == names


def test_replayed_reasoning_is_dropped_and_named() -> None:
    """Codex sends its whole conversation each turn, reasoning items with their encrypted
    content too: a chat model takes none back."""
    body = {
        "model": "m",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Thinking."}],
                "content": None,
                "encrypted_content": "gAAAA...",
            },
            {"type": "message", "role": "assistant", "content": "Hello."},
        ],
    }
    dropped = Dropped()
    chat = responses_to_chat_request(body, dropped)
    assert chat["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": "Hello."},
    ]
    assert dropped.paths == ["input.1"]
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat_request(body, Dropped("up", strict=True))
    assert caught.value.param == "input.1"


def test_a_namespaced_call_takes_its_chat_name() -> None:
    namespace = {"type": "namespace", "name": "crm", "description": "CRM.", "tools": [WEATHER]}
    body = {
        "model": "m",
        "tools": [namespace],
        "input": [
            {"role": "user", "content": "Weather?"},
            {
                "type": "function_call",
                "id": "fc_1",
                "status": "completed",
                "call_id": "call_1",
                "namespace": "crm",
                "name": "get_weather",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
    }
    messages = responses_to_chat_request(body)["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "crm__get_weather",
        "arguments": "{}",
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}

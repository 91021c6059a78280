"""Chat messages as Gemini contents: tool results found by call id, message features
Gemini cannot express, and property tests that no text, tool or result is lost."""

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.protocols.gemini import chat_to_gemini_request
from tests.protocols.gemini.helpers import ARGS, NAMES, TEXTS, chat_request, refused


def test_two_tool_results_find_their_function_names_by_tool_call_id() -> None:
    calls = [
        {"id": "call_w", "type": "function", "function": {"name": "weather", "arguments": "{}"}},
        {"id": "call_t", "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ]
    body = chat_request(
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
    body = chat_request(
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_nope", "content": "x"},
        ]
    )

    assert refused(body).param == "messages.1.tool_call_id"


def test_tool_call_with_arguments_that_are_not_a_json_object_is_refused() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    body = chat_request(messages=[{"role": "assistant", "tool_calls": [call]}])

    assert refused(body).param == "messages.0.tool_calls.0.function.arguments"


def test_a_conversation_without_user_or_assistant_content_is_refused() -> None:
    body = chat_request(
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": ""}]
    )

    assert refused(body).param == "messages"


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
    assert refused(chat_request(messages=[message])).param == param


def test_audio_input_becomes_inline_data() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    body = chat_request(messages=[{"role": "user", "content": [audio]}])

    parts = chat_to_gemini_request(body)["contents"][0]["parts"]

    assert parts == [{"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]


# --- properties --------------------------------------------------------------------------


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

"""Made-up tool call ids, and the thoughtSignature that rides in them and comes back."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.protocols.gemini import chat_to_gemini_request, gemini_to_chat_response
from tests.protocols.gemini.helpers import ARGS, NAMES, PLACEHOLDER, chat_request, counting_ids


def test_made_up_tool_call_ids_are_unique() -> None:
    parts = [{"functionCall": {"name": "f", "args": {}}}] * 20
    resp = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}

    calls = gemini_to_chat_response(resp, "m")["choices"][0]["message"]["tool_calls"]

    assert len({call["id"] for call in calls}) == 20
    assert all(call["id"].startswith("call_") for call in calls)


def test_thought_signature_rides_in_the_tool_call_id_and_comes_back() -> None:
    part = {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "c2lnbmF0dXJl"}
    resp = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP"}]}
    message = gemini_to_chat_response(resp, "gemini-3-pro", counting_ids())["choices"][0]["message"]
    call_id = message["tool_calls"][0]["id"]

    body = chat_request(
        messages=[
            {"role": "user", "content": "go"},
            message,
            {"role": "tool", "tool_call_id": call_id, "content": "done"},
        ]
    )
    contents = chat_to_gemini_request(body)["contents"]

    assert contents[1] == {"role": "model", "parts": [part]}
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "f"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            NAMES, ARGS, st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9+/]{4,40}", fullmatch=True))
        ),
        min_size=1,
        max_size=4,
    )
)
def test_function_calls_survive_a_round_trip_through_the_client(
    calls: list[tuple[str, dict[str, Any], str | None]],
) -> None:
    parts = []
    for name, args, signature in calls:
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    resp = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}
    message = gemini_to_chat_response(resp, "m")["choices"][0]["message"]
    results = [
        {"role": "tool", "tool_call_id": call["id"], "content": "ok"}
        for call in message["tool_calls"]
    ]

    contents = chat_to_gemini_request(
        chat_request(messages=[{"role": "user", "content": "go"}, message, *results])
    )["contents"]

    if "thoughtSignature" not in parts[0]:
        parts[0] = {**parts[0], "thoughtSignature": PLACEHOLDER}
    assert contents[1] == {"role": "model", "parts": parts}
    assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == [
        name for name, _, _ in calls
    ]

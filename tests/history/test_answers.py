"""The assistant message stored for an answer, whole or streamed."""

from typing import Any

from gatewayz.history.answers import StreamedAnswer, reply_message


def _chunk(delta: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta}]}


def test_a_whole_answer_keeps_content_and_tool_calls_and_drops_the_rest() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    data = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "annotations": [],
                    "tool_calls": [call],
                },
            },
            {"index": 1, "message": {"role": "assistant", "content": "second choice"}},
        ]
    }
    assert reply_message(data) == {"role": "assistant", "content": None, "tool_calls": [call]}
    text = {"choices": [{"message": {"role": "assistant", "content": "Hi!", "refusal": None}}]}
    assert reply_message(text) == {"role": "assistant", "content": "Hi!"}
    assert reply_message({"choices": []}) is None


def test_streamed_text_is_joined_from_the_first_choice_only() -> None:
    answer = StreamedAnswer()
    for delta in ({"role": "assistant", "content": ""}, {"content": "Hello "}, {"content": "you"}):
        answer.add(_chunk(delta))
    answer.add(_chunk({"content": "other choice"}, index=1))
    answer.add({"choices": [], "usage": {"prompt_tokens": 1}})
    assert answer.message() == {"role": "assistant", "content": "Hello you"}


def test_streamed_parallel_tool_calls_are_merged_by_index() -> None:
    answer = StreamedAnswer()
    first = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "weather"}}
    second = {"index": 1, "id": "call_b", "type": "function", "function": {"name": "time"}}
    answer.add(_chunk({"role": "assistant", "content": None, "tool_calls": [first]}))
    answer.add(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}))
    answer.add(_chunk({"tool_calls": [second]}))
    answer.add(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}))
    answer.add(_chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}))
    assert answer.message() == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
            },
            {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}},
        ],
    }


def test_an_empty_streamed_answer_is_an_empty_assistant_message() -> None:
    answer = StreamedAnswer()
    answer.add(_chunk({"role": "assistant", "content": ""}))
    assert answer.message() == {"role": "assistant", "content": ""}

"""OpenAI Chat Completions: request checks, the upstream body, stream event handling."""

import copy

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.openai_chat import (
    UpstreamStreamError,
    parse_request,
    read_stream_event,
    requested_output_limit,
    tally_chunk,
    tally_reply,
    upstream_request,
)
from gatewayz.protocols.usage import Usage, UsageTally

HELLO = [{"role": "user", "content": "hello"}]


def _raw(body: object) -> bytes:
    return orjson.dumps(body)


# --- parse_request ---------------------------------------------------------------


def test_parse_request_keeps_unknown_fields_as_sent() -> None:
    body = {
        "model": "groq/llama",
        "messages": [{"role": "developer", "content": "be brief"}, *HELLO],
        "stream": True,
        "max_tokens": 5,
        "temperature": 0.2,
        "vendor_extension": {"nested": [1, 2, 3]},
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert parse_request(_raw(body)) == body


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{not json", None),
        (b"[]", None),
        (b'"a string"', None),
        (_raw({"messages": HELLO}), "model"),
        (_raw({"model": "", "messages": HELLO}), "model"),
        (_raw({"model": 7, "messages": HELLO}), "model"),
        (_raw({"model": "m"}), "messages"),
        (_raw({"model": "m", "messages": []}), "messages"),
        (_raw({"model": "m", "messages": {"role": "user"}}), "messages"),
        (_raw({"model": "m", "messages": [*HELLO, {"role": "robot"}]}), "messages.1.role"),
        (_raw({"model": "m", "messages": [*HELLO, "hi"]}), "messages.1.role"),
        (_raw({"model": "m", "messages": HELLO, "stream": "yes"}), "stream"),
        (_raw({"model": "m", "messages": HELLO, "max_tokens": 0}), "max_tokens"),
        (_raw({"model": "m", "messages": HELLO, "max_tokens": 1.5}), "max_tokens"),
        (_raw({"model": "m", "messages": HELLO, "max_tokens": True}), "max_tokens"),
        (
            _raw({"model": "m", "messages": HELLO, "max_completion_tokens": -1}),
            "max_completion_tokens",
        ),
        (_raw({"model": "m", "messages": HELLO, "max_tokens": 10**18}), "max_tokens"),
        (_raw({"model": "m", "messages": HELLO, "max_tokens": 10_000_001}), "max_tokens"),
        (
            _raw({"model": "m", "messages": HELLO, "max_completion_tokens": 10**18}),
            "max_completion_tokens",
        ),
        (_raw({"model": "m", "messages": HELLO, "n": 0}), "n"),
        (_raw({"model": "m", "messages": HELLO, "n": 129}), "n"),
        (_raw({"model": "m", "messages": HELLO, "n": 2.0}), "n"),
        (_raw({"model": "m", "messages": HELLO, "stream_options": True}), "stream_options"),
    ],
)
def test_parse_request_rejects_with_the_field_named(raw: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert caught.value.status == 400
    assert caught.value.param == param


def test_parse_request_accepts_limits_at_their_bounds() -> None:
    body = {"model": "m", "messages": HELLO, "max_tokens": 10_000_000, "n": 128}
    assert parse_request(_raw(body)) == body


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({}, None),
        ({"max_tokens": 50}, 50),
        ({"max_completion_tokens": 70}, 70),
        ({"max_tokens": 50, "max_completion_tokens": 70}, 50),
        ({"max_tokens": 90, "max_completion_tokens": 70}, 70),
        ({"max_tokens": None, "max_completion_tokens": 70}, 70),
    ],
)
def test_the_output_limit_asked_for_is_the_smaller_of_both(
    limits: dict[str, int | None], expected: int | None
) -> None:
    assert requested_output_limit({"model": "m", "messages": HELLO, **limits}) == expected


def test_parse_request_error_for_bad_json_says_so() -> None:
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        parse_request(b'{"model": ')


# --- upstream_request ------------------------------------------------------------


def test_upstream_request_uses_the_provider_model_id() -> None:
    body = {"model": "groq/llama-3", "messages": HELLO}
    out = upstream_request(body, "llama-3", frozenset(), 4096)
    assert out == {"model": "llama-3", "messages": HELLO, "max_tokens": 4096}
    assert body["model"] == "groq/llama-3", "the client's body must not be changed"


def test_streams_ask_upstream_for_usage_and_keep_client_stream_options() -> None:
    body = {"model": "m", "messages": HELLO, "stream": True, "stream_options": {"x": 1}}
    out = upstream_request(body, "m", frozenset(), 10)
    assert out["stream_options"] == {"x": 1, "include_usage": True}
    assert body["stream_options"] == {"x": 1}


def test_non_streamed_request_gets_no_stream_options() -> None:
    out = upstream_request({"model": "m", "messages": HELLO}, "m", frozenset(), 10)
    assert "stream_options" not in out


def test_quirk_no_stream_options_removes_them() -> None:
    body = {
        "model": "m",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    out = upstream_request(body, "m", frozenset({"no_stream_options"}), 10)
    assert "stream_options" not in out
    assert out["stream"] is True


@pytest.mark.parametrize(
    "limits", [{}, {"max_tokens": 50}, {"max_tokens": 50, "max_completion_tokens": 20}]
)
def test_quirk_max_completion_tokens_sends_the_limit_in_that_field(limits: dict[str, int]) -> None:
    body = {"model": "m", "messages": HELLO, **limits}
    out = upstream_request(body, "m", frozenset({"max_completion_tokens"}), 20)
    assert out["max_completion_tokens"] == 20
    assert "max_tokens" not in out


def test_the_limit_goes_in_the_field_the_client_used() -> None:
    body = {"model": "m", "messages": HELLO, "max_completion_tokens": 700}
    out = upstream_request(body, "m", frozenset(), 700)
    assert out["max_completion_tokens"] == 700
    assert "max_tokens" not in out
    both = {**body, "max_tokens": 50}
    out = upstream_request(both, "m", frozenset(), 50)
    assert (out["max_completion_tokens"], "max_tokens" in out) == (50, False)


def test_without_the_quirk_the_limit_is_sent_as_max_tokens() -> None:
    for body in (
        {"model": "m", "messages": HELLO},
        {"model": "m", "messages": HELLO, "max_tokens": 9},
    ):
        out = upstream_request(body, "m", frozenset(), 4096)
        assert out["max_tokens"] == 4096
        assert "max_completion_tokens" not in out


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": _json}
    ),
    min_size=1,
    max_size=5,
)
_extra = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(
        lambda k: (
            k not in {"model", "messages", "stream", "stream_options", "max_tokens"}
            and k != "max_completion_tokens"
        )
    ),
    _json,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    messages=_messages,
    extra=_extra,
    stream=st.sampled_from([None, True, False]),
    stream_options=st.none() | st.dictionaries(st.text(max_size=5), _json, max_size=3),
    model_id=st.text(min_size=1, max_size=20),
    quirks=st.sampled_from([frozenset(), frozenset({"no_stream_options"})]),
)
def test_upstream_request_changes_only_model_stream_options_and_the_limit(
    messages: list,
    extra: dict,
    stream: bool | None,
    stream_options: dict | None,
    model_id: str,
    quirks: frozenset[str],
) -> None:
    body = {**extra, "model": "client/model", "messages": messages}
    if stream is not None:
        body["stream"] = stream
    if stream_options is not None:
        body["stream_options"] = stream_options
    before = copy.deepcopy(body)

    out = upstream_request(body, model_id, quirks, 321)

    assert body == before, "the client's body must not be changed"
    assert out["model"] == model_id
    assert out["messages"] == messages
    assert out["max_tokens"] == 321, "the limit held is always sent"
    untouched = {"model", "stream_options", "max_tokens"}
    assert {k: v for k, v in out.items() if k not in untouched} == {
        k: v for k, v in before.items() if k not in untouched
    }
    if stream and not quirks:
        assert out["stream_options"] == {**(stream_options or {}), "include_usage": True}
    elif quirks:
        assert "stream_options" not in out
    else:
        assert out.get("stream_options") == before.get("stream_options")


# --- read_stream_event -----------------------------------------------------------


def stream_event(data: bytes, client_wants_usage: bool) -> tuple[bytes | None, Usage | None]:
    """What read_stream_event forwards and the usage it reads."""
    tally = UsageTally()
    forwarded, _ = read_stream_event(data, client_wants_usage, tally)
    return forwarded, tally.reported


CONTENT = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "choices": [{"index": 0, "delta": {"content": "Hi"}}],
}
USAGE = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


def test_content_chunk_without_usage_is_forwarded_byte_for_byte() -> None:
    data = _raw(CONTENT)
    assert stream_event(data, client_wants_usage=False) == (data, None)
    assert stream_event(data, client_wants_usage=True) == (data, None)


def test_usage_only_chunk_is_forwarded_when_the_client_asked_for_usage() -> None:
    data = _raw({"id": "c1", "choices": [], "usage": USAGE})
    assert stream_event(data, client_wants_usage=True) == (data, Usage(3, 5))


def test_usage_only_chunk_is_dropped_when_the_client_did_not_ask() -> None:
    data = _raw({"id": "c1", "choices": [], "usage": USAGE})
    assert stream_event(data, client_wants_usage=False) == (None, Usage(3, 5))


def test_usage_on_a_content_chunk_is_stripped_when_the_client_did_not_ask() -> None:
    forwarded, usage = stream_event(_raw({**CONTENT, "usage": USAGE}), client_wants_usage=False)
    assert usage == Usage(3, 5)
    assert forwarded is not None
    assert orjson.loads(forwarded) == CONTENT


def test_usage_on_a_content_chunk_is_kept_when_the_client_asked() -> None:
    data = _raw({**CONTENT, "usage": USAGE})
    assert stream_event(data, client_wants_usage=True) == (data, Usage(3, 5))


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'"text"', b""])
def test_garbage_chunks_raise(data: bytes) -> None:
    with pytest.raises(ValueError):
        stream_event(data, client_wants_usage=False)


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        ({"error": {"message": "model overloaded", "type": "server_error"}}, "model overloaded"),
        ({"error": "quota exceeded"}, "quota exceeded"),
    ],
)
def test_error_chunks_raise_with_the_upstream_message(chunk: dict, message: str) -> None:
    with pytest.raises(UpstreamStreamError) as caught:
        stream_event(_raw(chunk), client_wants_usage=True)
    assert caught.value.message == message


# --- generated text for estimates ---------------------------------------------------


def _chunk(*deltas: dict[str, object]) -> dict[str, object]:
    choices = [{"index": i, "delta": delta} for i, delta in enumerate(deltas)]
    return {"object": "chat.completion.chunk", "choices": choices}


def test_every_kind_of_generated_text_in_a_chunk_is_counted() -> None:
    tally = UsageTally()
    call = {"index": 0, "id": "c", "function": {"name": "get_weather", "arguments": '{"a'}}
    tally_chunk(_chunk({"role": "assistant", "content": ""}), tally)  # nothing generated
    tally_chunk(_chunk({"content": "Hi"}, {"content": "Yo"}), tally)  # two choices
    tally_chunk(_chunk({"reasoning_content": "hmm"}, {"reasoning": "so"}), tally)
    tally_chunk(_chunk({"refusal": "no"}), tally)
    tally_chunk(_chunk({"tool_calls": [call]}), tally)
    tally_chunk(_chunk({"function_call": {"arguments": "1}"}}), tally)
    assert (tally.pieces, tally.text_bytes) == (8, 2 + 2 + 3 + 2 + 2 + 11 + 3 + 2)
    assert tally.reported is None


def test_usage_after_the_text_covers_it_and_text_after_usage_does_not() -> None:
    tally = UsageTally()
    tally_chunk({**_chunk({"content": "Hi"}), "usage": USAGE}, tally)
    assert tally.usage(400) == Usage(3, 5)
    tally_chunk(_chunk({"content": "more text than the usage covered"}), tally)
    assert tally.usage(400) == Usage(3, 9, estimated=True)  # 2 + 32 bytes / 4, rounded up


def test_an_answer_without_usage_is_estimated_from_all_its_generated_text() -> None:
    message = {
        "role": "assistant",
        "content": "ok",
        "reasoning_content": "thinking about it",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
    }
    tally = UsageTally()
    tally_reply({"choices": [{"index": 0, "message": message}]}, tally)
    assert tally.usage(40) == Usage(10, 6, estimated=True)  # 22 bytes / 4, rounded up

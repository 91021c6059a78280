"""Token usage as the gateway bills it."""

import pytest

from gatewayz.protocols.usage import Usage, UsageTally, estimate, from_openai


def test_usage_from_an_openai_usage_object() -> None:
    assert from_openai({"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}) == Usage(
        12, 34
    )


def test_missing_completion_tokens_count_as_zero() -> None:
    assert from_openai({"prompt_tokens": 7, "total_tokens": 7}) == Usage(7, 0)


@pytest.mark.parametrize(
    "usage",
    [
        None,
        "12",
        [],
        {},
        {"completion_tokens": 3},
        {"prompt_tokens": "12", "completion_tokens": 3},
        {"prompt_tokens": 12, "completion_tokens": None},
        {"prompt_tokens": 1.5, "completion_tokens": 3},
        {"prompt_tokens": -1, "completion_tokens": 3},
        {"prompt_tokens": 1, "completion_tokens": -3},
    ],
)
def test_absent_or_malformed_usage_is_none(usage: object) -> None:
    assert from_openai(usage) is None


def test_estimate_is_about_four_bytes_per_token_and_marked_estimated() -> None:
    assert estimate(400, 9) == Usage(100, 9, estimated=True)
    assert estimate(2, 0) == Usage(1, 0, estimated=True), "never bill zero input tokens"


def test_the_estimate_counts_pieces_when_they_are_short() -> None:
    tally = UsageTally()
    for piece in ["a", "b ", "c", "d"]:  # one token each, 5 bytes
        tally.saw(piece)
    assert tally.usage(100) == Usage(25, 4, estimated=True)


def test_the_estimate_counts_bytes_when_pieces_are_long() -> None:
    tally = UsageTally()
    tally.saw("a long piece of text of 33 bytes.")
    assert tally.usage(3) == Usage(1, 9, estimated=True)


def test_text_outside_ascii_is_counted_in_utf8_bytes() -> None:
    tally = UsageTally()
    tally.saw("你好世界")  # 12 bytes
    assert (tally.pieces, tally.text_bytes) == (1, 12)
    assert tally.usage(8).output_tokens == 3


def test_nothing_generated_counts_nothing() -> None:
    tally = UsageTally()
    for nothing in (None, "", 7, {"text": "x"}):
        tally.saw(nothing)
    assert tally.usage(8) == Usage(2, 0, estimated=True)


def test_partly_reported_usage_is_kept_and_only_the_rest_estimated() -> None:
    tally = UsageTally()
    tally.report(Usage(1200, 1), complete=False)  # e.g. Anthropic's message_start
    for piece in ["Hello ", "there"]:
        tally.saw(piece)
    assert tally.usage(99_999) == Usage(1200, 3, estimated=True)
    tally.report(Usage(1200, 2))
    assert tally.usage(99_999) == Usage(1200, 2)


def test_reasoning_inside_completion_tokens_is_not_counted_twice() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 500,
        "total_tokens": 510,
        "completion_tokens_details": {"reasoning_tokens": 450},
    }
    assert from_openai(usage) == Usage(10, 500)


@pytest.mark.parametrize(
    "usage",
    [
        # total_tokens adds the reasoning beside the completion tokens
        {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 315},
        # more reasoning than completion tokens: it cannot be a part of them
        {"prompt_tokens": 10, "completion_tokens": 5},
    ],
)
def test_reasoning_reported_beside_completion_tokens_is_charged_as_output(usage: dict) -> None:
    usage["completion_tokens_details"] = {"reasoning_tokens": 300}
    assert from_openai(usage) == Usage(10, 305)

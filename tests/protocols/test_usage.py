"""Token usage as the gateway bills it."""

import pytest

from gatewayz.protocols.usage import (
    Usage,
    UsageTally,
    estimate,
    from_anthropic,
    from_openai,
    from_responses,
)


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


# --- Prompt caching: cache reads and writes are their own kinds of input token -----------


def test_openai_cached_tokens_are_a_part_of_prompt_tokens() -> None:
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    }
    parsed = from_openai(usage)
    assert parsed == Usage(2006, 300, cache_read_tokens=1920)
    assert parsed is not None and parsed.uncached_input_tokens == 86


def test_openrouter_cache_writes_are_a_part_of_prompt_tokens() -> None:
    details = {"cached_tokens": 0, "cache_write_tokens": 100, "audio_tokens": 0}
    usage = {"prompt_tokens": 194, "completion_tokens": 2, "prompt_tokens_details": details}
    assert from_openai(usage) == Usage(194, 2, cache_write_tokens=100)


def test_one_hour_writes_carried_in_chat_usage_are_a_part_of_the_writes() -> None:
    details = {"cached_tokens": 10, "cache_write_tokens": 30, "cache_write_1h_tokens": 20}
    usage = {"prompt_tokens": 50, "completion_tokens": 1, "prompt_tokens_details": details}
    parsed = from_openai(usage)
    assert parsed == Usage(
        50, 1, cache_read_tokens=10, cache_write_tokens=30, cache_write_1h_tokens=20
    )
    assert parsed is not None and parsed.uncached_input_tokens == 10


def test_deepseek_cache_hits_are_a_part_of_prompt_tokens() -> None:
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 5,
        "prompt_cache_hit_tokens": 100,
        "prompt_cache_miss_tokens": 20,
    }
    assert from_openai(usage) == Usage(120, 5, cache_read_tokens=100)


def test_cache_parts_larger_than_the_prompt_raise_the_input_to_their_sum() -> None:
    """An upstream reporting its cache tokens beside prompt_tokens: every kind is charged as
    reported, none twice."""
    details = {"cached_tokens": 80, "cache_write_tokens": 40}
    usage = {"prompt_tokens": 100, "completion_tokens": 1, "prompt_tokens_details": details}
    parsed = from_openai(usage)
    assert parsed == Usage(120, 1, cache_read_tokens=80, cache_write_tokens=40)
    assert parsed is not None and parsed.uncached_input_tokens == 0


@pytest.mark.parametrize(
    "details", [None, "x", {"cached_tokens": None}, {"cached_tokens": -3}, {"cached_tokens": 1.5}]
)
def test_malformed_cache_details_count_as_no_cache(details: object) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": details}
    assert from_openai(usage) == Usage(10, 1)


def test_anthropic_cache_tokens_are_beside_input_tokens() -> None:
    usage = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400},
        "output_tokens": 7,
    }
    parsed = from_anthropic(usage)
    assert parsed == Usage(
        3050, 7, cache_read_tokens=2000, cache_write_tokens=1000, cache_write_1h_tokens=400
    )
    assert parsed is not None and parsed.uncached_input_tokens == 50


def test_anthropic_writes_without_their_split_are_five_minute_writes() -> None:
    usage = {"input_tokens": 5, "cache_creation_input_tokens": 20, "output_tokens": 1}
    assert from_anthropic(usage) == Usage(25, 1, cache_write_tokens=20)


def test_anthropic_split_without_its_total_adds_up_the_split() -> None:
    split = {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4}
    usage = {"input_tokens": 5, "cache_creation": split, "output_tokens": 1}
    assert from_anthropic(usage) == Usage(12, 1, cache_write_tokens=7, cache_write_1h_tokens=4)


def test_responses_cached_and_written_tokens_are_a_part_of_input_tokens() -> None:
    usage = {
        "input_tokens": 5000,
        "input_tokens_details": {"cached_tokens": 3207, "cache_write_tokens": 1000},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 5010,
    }
    assert from_responses(usage) == Usage(5000, 10, cache_read_tokens=3207, cache_write_tokens=1000)


def test_an_estimate_keeps_the_cache_tokens_reported_before_it() -> None:
    tally = UsageTally()
    tally.report(Usage(120, 1, cache_read_tokens=100, cache_write_tokens=10), complete=False)
    tally.saw("more text")
    assert tally.usage(10**6) == Usage(
        120, 3, estimated=True, cache_read_tokens=100, cache_write_tokens=10
    )

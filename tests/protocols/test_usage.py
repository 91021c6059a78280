"""Token usage as the gateway bills it."""

import pytest

from gatewayz.protocols.usage import Usage, estimate, from_openai


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

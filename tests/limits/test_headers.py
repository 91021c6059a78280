"""What a client reads from a verdict: OpenAI-style headers and the 429's retry-after."""

import pytest

from gatewayz.limits.headers import duration, rate_headers, refusal
from gatewayz.limits.windows import DAY_MS, MINUTE_MS, Window, WindowState

RPM = Window("k:rpm", "requests", 60, MINUTE_MS, "60 requests per minute for this API key", "key")
RPD = Window("u:rpd", "requests", 1000, DAY_MS, "1000 requests per day for this user", "user")
TPM = Window("u:tpm", "tokens", 10_000, MINUTE_MS, "10000 tokens per minute for this user", "user")
SLOTS = Window("k:conc", "concurrency", 2, 0, "2 calls at once for this API key", "key")


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0ms"),
        (120, "120ms"),
        (1000, "1s"),
        (1500, "1.5s"),
        (360_000, "6m0s"),
        (3_723_250, "1h2m3.25s"),
    ],
)
def test_durations_are_written_as_openai_writes_them(ms: int, text: str) -> None:
    assert duration(ms) == text


def test_headers_show_the_tightest_window_of_each_kind() -> None:
    states = (
        WindowState(40, 20_000, 0),
        WindowState(3, 80_000_000, 0),
        WindowState(9000, 6000, 0),
        WindowState(1, 0, 0),
    )
    assert rate_headers((RPM, RPD, TPM, SLOTS), states) == {
        "x-ratelimit-limit-requests": "1000",
        "x-ratelimit-remaining-requests": "3",
        "x-ratelimit-reset-requests": "22h13m20s",
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "9000",
        "x-ratelimit-reset-tokens": "6s",
    }


def test_no_token_headers_without_a_token_limit() -> None:
    assert set(rate_headers((RPM,), (WindowState(5, 100, 0),))) == {
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    }


def test_a_refusal_names_the_window_that_waits_longest() -> None:
    states = (WindowState(0, 60_000, 1_000), WindowState(0, 60_000, 2_400), WindowState(1, 0, 0))
    error = refusal((RPM, TPM, SLOTS), states)
    assert error.status == 429
    assert error.message == (
        "Rate limit reached: 10000 tokens per minute for this user. Try again in 2.4s."
    )
    assert error.headers["retry-after"] == "3"
    assert error.headers["retry-after-ms"] == "2400"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"

"""The benchmark judges each Gatewayz figure against the pass-through and the upstream."""

from load import Result
from report import DIRECT, PASS_THROUGH, Report, comparison


def result(rps: float, p50_ms: float = 1.0, p99_ms: float = 2.0) -> Result:
    return Result(requests=int(rps), rps=rps, p50_ms=p50_ms, p99_ms=p99_ms, errors=0, bad_status=0)


def test_throughput_at_c32_is_a_ratio_to_the_passthrough() -> None:
    report = Report(targeted={"gatewayz sqlite"})
    report.add(PASS_THROUGH, False, 32, result(1000))
    assert comparison(report, "gatewayz sqlite", False, 32, result(860)).endswith(
        "0.86x pass-through (>= 0.85x) met"
    )
    assert comparison(report, "gatewayz sqlite", False, 32, result(840)).endswith("MISSED")
    assert comparison(report, "gatewayz sqlite 2 workers", False, 32, result(840)) == (
        "0.84x pass-through"
    )


def test_latency_at_c1_is_what_is_added_over_the_upstream() -> None:
    report = Report(targeted={"gatewayz sqlite"})
    report.add(DIRECT, True, 1, result(5000, p50_ms=0.1, p99_ms=0.2))
    met = comparison(report, "gatewayz sqlite", True, 1, result(900, p50_ms=0.35, p99_ms=1.1))
    assert met.startswith("adds +0.25 / +0.90 ms") and met.endswith("met")
    slow = comparison(report, "gatewayz sqlite", True, 1, result(900, p50_ms=0.5, p99_ms=1.1))
    assert slow.endswith("MISSED")

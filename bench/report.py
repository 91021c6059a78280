"""The benchmark's figures next to its targets: the table, ratios and verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotspots import Profile, print_profile
from load import Result

DIRECT = "direct"
PASS_THROUGH = "pass-through"

C32_MIN_RATIO = 0.85
C1_P50_ADDED_MS = 0.3
C1_P99_ADDED_MS = 1.0
MAX_RSS_MB = 150.0
WORKERS_MIN_RATIO = 1.8
SEEDED_MAX_DROP = 0.10

Key = tuple[str, bool, int]


@dataclass
class Report:
    """Every figure of one run, by (row, stream, concurrency), and what each gateway peaked at."""

    results: dict[Key, Result] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    targeted: set[str] = field(default_factory=set)  # one-worker rows the targets apply to
    notes: list[str] = field(default_factory=list)
    profiles: list[tuple[str, Profile]] = field(default_factory=list)

    def add(self, row: str, stream: bool, concurrency: int, result: Result) -> None:
        self.results[(row, stream, concurrency)] = result

    def get(self, row: str, stream: bool, concurrency: int) -> Result | None:
        return self.results.get((row, stream, concurrency))

    def failed(self) -> bool:
        return any(result.errors for result in self.results.values())


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def mode(stream: bool) -> str:
    return "stream" if stream else "non-stream"


def comparison(report: Report, row: str, stream: bool, concurrency: int, result: Result) -> str:
    """How one row compares with the reference: added latency at c=1, req/s ratio otherwise."""
    if row == DIRECT:
        return ""
    if concurrency == 1:
        direct = report.get(DIRECT, stream, 1)
        if direct is None:
            return ""
        p50, p99 = result.p50_ms - direct.p50_ms, result.p99_ms - direct.p99_ms
        text = f"adds {p50:+.2f} / {p99:+.2f} ms p50 / p99 over direct"
        if row not in report.targeted:
            return text
        ok = p50 <= C1_P50_ADDED_MS and p99 <= C1_P99_ADDED_MS
        return f"{text} (<= {C1_P50_ADDED_MS:g} / {C1_P99_ADDED_MS:g}) {verdict(ok)}"
    reference = report.get(PASS_THROUGH, stream, concurrency)
    if row == PASS_THROUGH or reference is None:
        return ""
    ratio = result.rps / reference.rps
    if row not in report.targeted:
        return f"{ratio:.2f}x pass-through"
    return f"{ratio:.2f}x pass-through (>= {C32_MIN_RATIO:g}x) {verdict(ratio >= C32_MIN_RATIO)}"


def print_table(report: Report) -> None:
    """One line per figure, grouped by scenario, reference rows first."""
    keys = sorted(report.results, key=lambda key: (key[1], key[2]))
    width = max(len(f"{mode(stream)} c={concurrency} {row}") for row, stream, concurrency in keys)
    head = f"{'scenario':<{width}}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}"
    print(f"{head}  compared, target")
    for row, stream, concurrency in keys:
        result = report.results[(row, stream, concurrency)]
        label = f"{mode(stream)} c={concurrency} {row}"
        errors = f"{result.errors}" + (f" ({result.bad_status})" if result.bad_status else "")
        note = comparison(report, row, stream, concurrency, result)
        if result.settle_seconds >= 0.2:
            note += f"; stored its backlog {result.settle_seconds:.1f} s after the load"
        print(
            f"{label:<{width}}{result.rps:>9,.0f}{result.p50_ms:>8.2f}{result.p99_ms:>8.2f}"
            f"{errors:>8}  {note}"
        )


def print_memory(report: Report) -> None:
    """Peak RSS of each gateway (all its processes), the target for one worker."""
    for row, rss in report.peak_rss_mb.items():
        target = f" (<= {MAX_RSS_MB:g} MB) {verdict(rss <= MAX_RSS_MB)}"
        print(f"peak RSS {row}: {rss:.0f} MB" + (target if row in report.targeted else ""))


def print_profiles(report: Report) -> None:
    for title, profile in report.profiles:
        print_profile(title, profile)


def print_backend_cost(report: Report, base: str, other: str) -> None:
    """What ``other`` (PostgreSQL and Redis) costs next to ``base`` (SQLite), per scenario."""
    print(f"\ncost of {other} next to {base}:")
    for stream in (False, True):
        for concurrency in (1, 32):
            first = report.get(base, stream, concurrency)
            second = report.get(other, stream, concurrency)
            if first is None or second is None:
                continue
            print(
                f"  {mode(stream)} c={concurrency}: {second.rps / first.rps:.2f}x the req/s, "
                f"p50 {second.p50_ms - first.p50_ms:+.2f} ms, "
                f"p99 {second.p99_ms - first.p99_ms:+.2f} ms"
            )


def print_ratio(report: Report, title: str, base: str, other: str, minimum: float) -> None:
    """Req/s of ``other`` as a ratio to ``base`` at c=32, against the ``minimum`` ratio."""
    print(f"\n{title}:")
    for stream in (False, True):
        first, second = report.get(base, stream, 32), report.get(other, stream, 32)
        if first is None or second is None:
            continue
        ratio = second.rps / first.rps
        print(
            f"  {mode(stream)} c=32: {second.rps:,.0f} vs {first.rps:,.0f} req/s = {ratio:.2f}x "
            f"(>= {minimum:g}x) {verdict(ratio >= minimum)}"
        )

"""What a verdict tells the client: OpenAI-style `x-ratelimit-*` headers and, when refused,
a 429 with `retry-after`."""

from gatewayz.errors import RateLimited
from gatewayz.limits.windows import Window, WindowState


def rate_headers(windows: tuple[Window, ...], states: tuple[WindowState, ...]) -> dict[str, str]:
    """`x-ratelimit-{limit,remaining,reset}-{requests,tokens}` of the tightest window of each
    kind (the one with the least left)."""
    headers: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        pairs = [(w, s) for w, s in zip(windows, states, strict=True) if w.kind == kind]
        if not pairs:
            continue
        window, state = min(pairs, key=lambda pair: (pair[1].remaining, -pair[1].reset_ms))
        headers[f"x-ratelimit-limit-{kind}"] = str(window.limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(state.remaining)
        headers[f"x-ratelimit-reset-{kind}"] = duration(state.reset_ms)
    return headers


def refusal(windows: tuple[Window, ...], states: tuple[WindowState, ...]) -> RateLimited:
    """The 429 for a refused call, naming the window that keeps it waiting longest."""
    window, state = max(zip(windows, states, strict=True), key=lambda pair: pair[1].retry_ms)
    wait_ms = max(state.retry_ms, 1)
    headers = rate_headers(windows, states)
    headers["retry-after"] = str(-(-wait_ms // 1000))
    headers["retry-after-ms"] = str(wait_ms)
    return RateLimited(
        f"Rate limit reached: {window.label}. Try again in {duration(wait_ms)}.",
        scope=window.scope,
        headers=headers,
    )


def duration(ms: int) -> str:
    """A duration as OpenAI writes it in reset headers: `120ms`, `1.5s`, `6m0s`, `1h2m3s`."""
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"

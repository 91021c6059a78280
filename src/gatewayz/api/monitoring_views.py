"""JSON shapes of the monitoring statistics: money as decimal credit strings, times in UTC."""

from datetime import datetime
from typing import Any

from gatewayz.billing.money import format_credits
from gatewayz.store.times import utc
from gatewayz.telemetry.anomalies import Anomaly, Rules, WindowStats
from gatewayz.telemetry.log_query import LogFilter, rate
from gatewayz.telemetry.request_list import Counts, ModelSummary
from gatewayz.telemetry.stats import Group, Percentiles, Realtime, Totals


def when(moment: datetime | None) -> str | None:
    return None if moment is None else utc(moment).isoformat()


def window(where: LogFilter) -> dict[str, str | None]:
    return {"since": when(where.since), "until": when(where.until)}


def totals(t: Totals) -> dict[str, Any]:
    return {
        "requests": t.requests,
        "errors": t.errors,
        "cancelled": t.cancelled,
        "error_rate": t.error_rate,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "total_tokens": t.input_tokens + t.output_tokens,
        "cost": format_credits(t.cost_units),
    }


def percentiles(p: Percentiles) -> dict[str, int | None]:
    return {"samples": p.samples, "p50": p.p50, "p95": p.p95}


def realtime(r: Realtime) -> dict[str, Any]:
    seconds = (r.until - r.since).total_seconds()
    t = r.totals
    return {
        "window": {"since": when(r.since), "until": when(r.until), "seconds": seconds},
        **totals(t),
        "requests_per_second": round(t.requests / seconds, 6),
        "tokens_per_second": round((t.input_tokens + t.output_tokens) / seconds, 3),
        "output_tokens_per_second": round(t.output_tokens / seconds, 3),
        "latency_ms": percentiles(r.latency_ms),
        "ttft_ms": percentiles(r.ttft_ms),
    }


def group(name: str, g: Group) -> dict[str, Any]:
    out: dict[str, Any] = {name: g.key}
    if name == "user_id":
        out["email"] = g.label
    return {**out, **totals(g.totals)}


def error_group(name: str, g: Group) -> dict[str, Any]:
    return {**group(name, g), "error_codes": {str(code): n for code, n in g.error_codes.items()}}


def counts(c: Counts) -> dict[str, Any]:
    return {
        "requests": c.requests,
        "by_outcome": c.by_outcome,
        "by_status": {str(code): n for code, n in c.by_status.items()},
        "by_api": c.by_api,
    }


def model(m: ModelSummary) -> dict[str, Any]:
    return {
        **group("model", m.group),
        "avg_latency_ms": m.avg_latency_ms,
        "latency_ms": percentiles(m.latency_ms),
        "ttft_ms": percentiles(m.ttft_ms),
    }


def log_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {name: value for name, value in row.items() if name != "cost_units"}
    out["cost"] = format_credits(row["cost_units"])
    out["created_at"] = when(row["created_at"])
    return out


def window_stats(w: WindowStats) -> dict[str, Any]:
    return {
        "requests": w.requests,
        "errors": w.errors,
        "error_rate": rate(w.errors, w.requests),
        "latency_samples": w.ok_samples,
        "p95_latency_ms": w.p95_latency_ms,
    }


def anomaly(a: Anomaly) -> dict[str, Any]:
    return {
        "provider": a.provider,
        "provider_model": a.provider_model,
        "kind": a.kind,
        "score": a.score,
        "score_kind": "z" if a.kind == "error_rate" else "ratio",
        "recent": window_stats(a.recent),
        "baseline": window_stats(a.baseline),
    }


def rules(r: Rules) -> dict[str, Any]:
    return {
        "min_recent_requests": r.min_recent_requests,
        "min_baseline_requests": r.min_baseline_requests,
        "error_rate_z": r.z,
        "error_rate_min_increase": r.min_rate_increase,
        "latency_p95_ratio": r.latency_ratio,
        "latency_p95_min_increase_ms": r.min_latency_increase_ms,
    }

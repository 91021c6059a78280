"""Writes the Grafana dashboards in deploy/grafana/dashboards/ from the panel lists below.

Edit this file, then run `python deploy/grafana/build_dashboards.py`; tests/test_deploy.py
checks that the JSON files are up to date and that every metric they query exists in
src/gatewayz/telemetry/metrics.py.
"""

import json
from pathlib import Path

from panels import (
    ERR,
    PSEL,
    RATE,
    Panel,
    bars,
    dashboard,
    error_ratio,
    m,
    quantile,
    series,
    stat,
    table,
)

OUT = Path(__file__).parent / "dashboards"


def overview() -> list[Panel]:
    return [
        stat("Requests / s", f"sum(rate({m('gatewayz_requests_total')}[{RATE}]))", "reqps"),
        stat("Error ratio", error_ratio(), "percentunit", "4xx and 5xx answers, except 499."),
        stat("p95 latency", quantile(0.95, "gatewayz_request_duration_seconds"), "s"),
        stat(
            "Credits charged (range)",
            f"sum(increase({m('gatewayz_cost_credits_total')}[$__range]))",
            "currencyUSD",
            "1 credit = 1 USD.",
        ),
        series(
            "Requests / s by status",
            [(f"sum by (status) (rate({m('gatewayz_requests_total')}[{RATE}]))", "{{status}}")],
            "reqps",
            stack=True,
        ),
        series(
            "Latency",
            [
                (quantile(q, "gatewayz_request_duration_seconds"), f"p{round(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ],
            "s",
            "Request to end of response, streams included.",
        ),
        series(
            "Gateway overhead",
            [
                (
                    quantile(q, "gatewayz_gateway_overhead_seconds", "route", base=""),
                    f"p{p} {{{{route}}}}",
                )
                for q, p in ((0.5, 50), (0.99, 99))
            ],
            "s",
            "Time of a relayed call not spent waiting on the upstream.",
        ),
        series(
            "Tokens / s",
            [(f"sum by (direction) (rate({m('gatewayz_tokens_total')}[{RATE}]))", "{{direction}}")],
            "short",
            stack=True,
        ),
        series(
            "Requests refused by rate limits",
            [(f"sum by (scope) (rate(gatewayz_rate_limited_total[{RATE}]))", "{{scope}}")],
            "reqps",
        ),
        series(
            "Database connections",
            [
                ("sum(gatewayz_db_pool_connections_in_use)", "in use"),
                ("sum(gatewayz_db_pool_size)", "pool size"),
            ],
            "short",
        ),
    ]


def models() -> list[Panel]:
    return [
        series(
            "Requests / s by model",
            [(f"sum by (model) (rate({m('gatewayz_requests_total')}[{RATE}]))", "{{model}}")],
            "reqps",
        ),
        series("Error ratio by model", [(error_ratio("model"), "{{model}}")], "percentunit"),
        series(
            "p95 latency by model",
            [(quantile(0.95, "gatewayz_request_duration_seconds", "model"), "{{model}}")],
            "s",
        ),
        series(
            "p95 time to first token by model",
            [(quantile(0.95, "gatewayz_time_to_first_token_seconds", "model"), "{{model}}")],
            "s",
            "Streams only.",
        ),
        bars(
            "Most requested models (range)",
            f"topk(15, sum by (model) (increase({m('gatewayz_requests_total')}[$__range])))",
            "{{model}}",
            "short",
        ),
        bars(
            "Most failed models (range)",
            f"topk(15, sum by (model) (increase({m('gatewayz_requests_total', ERR)}[$__range])))",
            "{{model}}",
            "short",
            "4xx and 5xx answers, except 499.",
        ),
    ]


def providers() -> list[Panel]:
    return [
        series(
            "Requests / s by provider",
            [
                (
                    f"sum by (provider) (rate({m('gatewayz_requests_total')}[{RATE}]))",
                    "{{provider}}",
                )
            ],
            "reqps",
        ),
        series(
            "Error ratio by provider", [(error_ratio("provider"), "{{provider}}")], "percentunit"
        ),
        series(
            "Upstream errors / s",
            [
                (
                    f"sum by (provider, kind) "
                    f"(rate({m('gatewayz_upstream_errors_total', base=PSEL)}[{RATE}]))",
                    "{{provider}} {{kind}}",
                )
            ],
            "reqps",
            "Failed upstream attempts (failover included) and broken streams.",
        ),
        series(
            "p95 latency by provider",
            [(quantile(0.95, "gatewayz_request_duration_seconds", "provider"), "{{provider}}")],
            "s",
        ),
        series(
            "p95 time to first token by provider",
            [(quantile(0.95, "gatewayz_time_to_first_token_seconds", "provider"), "{{provider}}")],
            "s",
        ),
        table(
            "Circuit breakers",
            f"max by (provider, model) ({m('gatewayz_circuit_state', base=PSEL)})",
            "none",
            [
                {
                    "type": "value",
                    "options": {
                        "0": {"text": "closed", "color": "green", "index": 0},
                        "1": {"text": "half-open", "color": "yellow", "index": 1},
                        "2": {"text": "open", "color": "red", "index": 2},
                    },
                }
            ],
            "Per provider model: closed (serving), half-open (probing) or open (skipped).",
        ),
    ]


def cost() -> list[Panel]:
    spend = m("gatewayz_cost_credits_total")
    served = m("gatewayz_requests_total", 'provider!=""')
    used = m("gatewayz_tokens_total")
    return [
        stat("Credits charged (range)", f"sum(increase({spend}[$__range]))", "currencyUSD"),
        stat("Credits / hour (now)", f"sum(rate({spend}[{RATE}])) * 3600", "currencyUSD"),
        stat(
            "Mean credits per request (range)",
            f"sum(increase({spend}[$__range])) / sum(increase({served}[$__range]))",
            "currencyUSD",
        ),
        stat(
            "Credits per million tokens (range)",
            f"sum(increase({spend}[$__range])) * 1e6 / sum(increase({used}[$__range]))",
            "currencyUSD",
        ),
        series(
            "Credits / hour by model",
            [(f"sum by (model) (rate({spend}[{RATE}])) * 3600", "{{model}}")],
            "currencyUSD",
            stack=True,
        ),
        series(
            "Credits / hour by provider",
            [(f"sum by (provider) (rate({spend}[{RATE}])) * 3600", "{{provider}}")],
            "currencyUSD",
            stack=True,
        ),
        bars(
            "Costliest models (range)",
            f"topk(15, sum by (model) (increase({spend}[$__range])))",
            "{{model}}",
            "currencyUSD",
        ),
        bars(
            "Costliest providers (range)",
            f"topk(15, sum by (provider) (increase({spend}[$__range])))",
            "{{provider}}",
            "currencyUSD",
        ),
    ]


def tokens() -> list[Panel]:
    used = m("gatewayz_tokens_total")
    inputs = m("gatewayz_tokens_total", 'direction="input"')
    outputs = m("gatewayz_tokens_total", 'direction="output"')
    served = m("gatewayz_requests_total", 'provider!=""')
    return [
        stat("Input tokens (range)", f"sum(increase({inputs}[$__range]))", "short"),
        stat("Output tokens (range)", f"sum(increase({outputs}[$__range]))", "short"),
        stat("Tokens / s (now)", f"sum(rate({used}[{RATE}]))", "short"),
        stat(
            "Output tokens per request (range)",
            f"sum(increase({outputs}[$__range])) / sum(increase({served}[$__range]))",
            "short",
        ),
        series(
            "Tokens / s by direction",
            [(f"sum by (direction) (rate({used}[{RATE}]))", "{{direction}}")],
            "short",
            stack=True,
        ),
        series(
            "Tokens / s by model",
            [(f"sum by (model) (rate({used}[{RATE}]))", "{{model}}")],
            "short",
            stack=True,
        ),
        series(
            "Tokens / s by provider",
            [
                (
                    f"sum by (provider, direction) (rate({used}[{RATE}]))",
                    "{{provider}} {{direction}}",
                )
            ],
            "short",
        ),
        bars(
            "Most tokens by model (range)",
            f"topk(15, sum by (model) (increase({used}[$__range])))",
            "{{model}}",
            "short",
        ),
    ]


DASHBOARDS = {
    "overview": ("Gatewayz / Overview", "Traffic, errors, latency, cost and capacity.", overview),
    "models": ("Gatewayz / Models", "Requests, errors, latency and TTFT per model.", models),
    "providers": ("Gatewayz / Providers", "Upstream health: errors, latency, circuits.", providers),
    "cost": ("Gatewayz / Cost", "Credits charged to callers, by model and provider.", cost),
    "tokens": ("Gatewayz / Tokens", "Tokens billed, by direction, model and provider.", tokens),
}


def render(slug: str) -> str:
    """The JSON text of dashboard `slug`, as stored."""
    title, description, build = DASHBOARDS[slug]
    return json.dumps(dashboard(slug, title, description, build()), indent=2) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for slug in DASHBOARDS:
        (OUT / f"{slug}.json").write_text(render(slug), encoding="utf-8")
        print(f"wrote {OUT / f'{slug}.json'}")


if __name__ == "__main__":
    main()

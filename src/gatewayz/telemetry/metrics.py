"""Prometheus metrics: one registry per app, labelled children cached for O(1) updates.

With several worker processes, `gatewayz serve` names a fresh folder in
PROMETHEUS_MULTIPROC_DIR before the workers start: each process then writes its samples
to files there, and /metrics, whichever worker answers, reads them all together.
"""

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.billing.money import UNITS_PER_CREDIT
from gatewayz.telemetry.context import RequestContext

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The `model` label of a call whose model the catalog does not know (served by a fallback).
OTHER_MODEL = "other"
OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

M = TypeVar("M", Counter, Gauge, Histogram)


class _Children(Generic[M]):
    """A metric's children by label values, each looked up through the client once."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._cache: dict[tuple[Any, ...], M] = {}

    def __call__(self, *labels: Any) -> M:
        child = self._cache.get(labels)
        if child is None:
            child = self._cache[labels] = self._metric.labels(*(str(v) for v in labels))
        return child


class Metrics:
    """Every metric the gateway exports, and its /metrics page.

    Labels only take values the gateway defines, so that no client can add series: routes
    are route templates, providers come from the catalog, and `model_label` turns the model a
    call asked for into the catalog's id for it, or None for `other` (without one, models are
    labelled as they are noted).
    """

    def __init__(
        self,
        multiprocess_dir: str | None = None,
        model_label: Callable[[str], str | None] | None = None,
    ) -> None:
        self._dir = multiprocess_dir
        self._model_label = model_label or (lambda model: model)
        self.registry = registry = CollectorRegistry()
        self._requests = _Children(
            Counter(
                "gatewayz_requests",
                "HTTP requests answered, by route, model, provider and status code.",
                ["route", "model", "provider", "status"],
                registry=registry,
            )
        )
        self._duration = _Children(
            Histogram(
                "gatewayz_request_duration_seconds",
                "Total time from request to the end of the response (streams included).",
                ["route", "model", "provider"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self._ttft = _Children(
            Histogram(
                "gatewayz_time_to_first_token_seconds",
                "Time from request to the first streamed event from the upstream.",
                ["model", "provider"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self._overhead = _Children(
            Histogram(
                "gatewayz_gateway_overhead_seconds",
                "Total time of a relayed call minus the time spent waiting on the upstream.",
                ["route"],
                buckets=OVERHEAD_BUCKETS,
                registry=registry,
            )
        )
        self._tokens = _Children(
            Counter(
                "gatewayz_tokens",
                "Tokens billed, by model, provider and direction (input or output).",
                ["model", "provider", "direction"],
                registry=registry,
            )
        )
        self._cost = _Children(
            Counter(
                "gatewayz_cost_credits",
                "Credits charged to callers (1 credit = 1 USD).",
                ["model", "provider"],
                registry=registry,
            )
        )
        self._shortfall = _Children(
            Counter(
                "gatewayz_shortfall_credits",
                "Credits charged beyond calls' holds (upstreams that billed past the limits "
                "they were sent), by provider.",
                ["provider"],
                registry=registry,
            )
        )
        self._upstream_errors = _Children(
            Counter(
                "gatewayz_upstream_errors",
                "Failed upstream attempts and broken streams, by provider and kind.",
                ["provider", "kind"],
                registry=registry,
            )
        )
        self._circuit = _Children(
            Gauge(
                "gatewayz_circuit_state",
                "Circuit breaker per provider model: 0 closed, 1 half-open, 2 open "
                "(the worst state in any worker).",
                ["provider", "model"],
                multiprocess_mode="livemax",
                registry=registry,
            )
        )
        self._rate_limited = _Children(
            Counter(
                "gatewayz_rate_limited",
                "Requests refused by the gateway's own rate limits, by scope.",
                ["scope"],
                registry=registry,
            )
        )
        self._pool_size = Gauge(
            "gatewayz_db_pool_size",
            "Database connections each pool keeps (summed over workers).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._writer_waiting = _Children(
            Gauge(
                "gatewayz_writer_waiting_rows",
                "Settlements, request-log and audit rows not yet in the database, by where "
                "they wait: memory or journal (summed over workers).",
                ["place"],
                multiprocess_mode="livesum",
                registry=registry,
            )
        )
        self._writer_set_aside = Counter(
            "gatewayz_writer_set_aside_rows",
            "Rows the database refused, set aside in the dead-letter file.",
            registry=registry,
        )
        self._pool_in_use = Gauge(
            "gatewayz_db_pool_connections_in_use",
            "Database connections checked out of the pools now (summed over workers).",
            multiprocess_mode="livesum",
            registry=registry,
        )

    def observe_request(self, route: str, context: RequestContext, seconds: float) -> None:
        """One finished request: its count, latencies, tokens, cost and upstream errors."""
        provider = context.provider
        model = (self._model_label(context.model) or OTHER_MODEL) if context.model else ""
        self._requests(route, model, provider, context.status).inc()
        self._duration(route, model, provider).observe(seconds)
        for failed, kind in context.upstream_errors:
            self._upstream_errors(failed, kind).inc()
        if context.rate_limit_scope is not None:
            self._rate_limited(context.rate_limit_scope).inc()
        if not provider:
            return
        self._overhead(route).observe(max(0.0, seconds - context.upstream_seconds))
        if context.ttft_seconds is not None:
            self._ttft(model, provider).observe(context.ttft_seconds)
        if context.input_tokens:
            self._tokens(model, provider, "input").inc(context.input_tokens)
        if context.output_tokens:
            self._tokens(model, provider, "output").inc(context.output_tokens)
        if context.cost_units:
            self._cost(model, provider).inc(context.cost_units / UNITS_PER_CREDIT)
        if context.shortfall_units:
            self._shortfall(provider).inc(context.shortfall_units / UNITS_PER_CREDIT)

    def circuit_state(self, provider: str, model: str, state: str) -> None:
        """A circuit breaker's state now (`closed`, `half_open` or `open`)."""
        self._circuit(provider, model).set(CIRCUIT_VALUES[state])

    def writer_backlog(self, memory: int, journal: int) -> None:
        """Rows of the batch writer waiting for the database now."""
        self._writer_waiting("memory").set(memory)
        self._writer_waiting("journal").set(journal)

    def writer_set_aside(self, rows: int) -> None:
        self._writer_set_aside.inc(rows)

    def watch_pool(self, engine: AsyncEngine) -> None:
        """Follow the engine's pool: its size, and connections checked out as they move."""
        pool = engine.sync_engine.pool
        self._pool_size.set(pool.size())  # type: ignore[attr-defined]
        event.listen(pool, "checkout", lambda *_: self._pool_in_use.inc())
        event.listen(pool, "checkin", lambda *_: self._pool_in_use.dec())

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format; of every worker when there are several."""
        if self._dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._dir)
        return generate_latest(registry)

    def close(self) -> None:
        """Drop this process's live gauges from the shared folder (it is shutting down)."""
        if self._dir is not None:
            multiprocess.mark_process_dead(os.getpid(), self._dir)


@contextmanager
def multiprocess_dir(workers: int, environ: Mapping[str, str]) -> Iterator[None]:
    """With several workers, a fresh folder for their metric files, removed afterwards.

    An operator's own PROMETHEUS_MULTIPROC_DIR is kept as it is.
    """
    if workers <= 1 or MULTIPROC_ENV in environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="gatewayz-metrics-") as path:
        os.environ[MULTIPROC_ENV] = path
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]

"""The app's telemetry from its settings: metrics, tracing if configured, Sentry if configured."""

import asyncio
from collections.abc import Callable, Mapping

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.telemetry import tracing
from gatewayz.telemetry.logs import drain_logs
from gatewayz.telemetry.metrics import MULTIPROC_ENV, Metrics
from gatewayz.telemetry.observer import RequestObserver
from gatewayz.telemetry.sentry import init_sentry


class Telemetry:
    """Metrics always; an access-log line per request if `access_log`; traces when
    `otlp_endpoint` (or a test's `span_exporter`) is given; Sentry when `sentry_dsn` is.
    `model_label` names a requested model in the metrics (see Metrics)."""

    def __init__(
        self,
        environ: Mapping[str, str],
        access_log: bool,
        otlp_endpoint: str | None,
        sentry_dsn: str | None,
        span_exporter: SpanExporter | None = None,
        model_label: Callable[[str], str | None] | None = None,
    ) -> None:
        self.metrics = Metrics(environ.get(MULTIPROC_ENV), model_label)
        self.tracer_provider: TracerProvider | None = tracing.tracer_provider(
            otlp_endpoint, span_exporter
        )
        self._tracer = self.tracer_provider.get_tracer("gatewayz") if self.tracer_provider else None
        self.observer = RequestObserver(self.metrics, self._tracer, access_log)
        init_sentry(sentry_dsn)

    def watch(self, engine: AsyncEngine) -> None:
        """Follow the engine's pool in the metrics and its statements in traces."""
        self.metrics.watch_pool(engine)
        if self._tracer is not None:
            tracing.trace_database(engine, self._tracer)

    async def close(self) -> None:
        """Export the spans still buffered, leave the shared metrics folder, and write the
        queued log records (and later ones at once: the process is ending)."""
        self.metrics.close()
        if self.tracer_provider is not None:
            await asyncio.to_thread(self.tracer_provider.shutdown)
        drain_logs()

"""OpenTelemetry traces: a span per request, per upstream attempt and per database statement.

Tracing is off unless an OTLP endpoint is configured (or a test hands in an exporter); then
the request path costs one check for a tracer. Spans are exported in batches from a
background thread. They carry ids, names, routes and statuses: never a key (what the client
sent is masked of anything key-like), a prompt or an SQL parameter.
"""

from time import perf_counter
from types import TracebackType
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Scope

from gatewayz import __version__
from gatewayz.errors import UpstreamError
from gatewayz.telemetry.context import RequestContext, current, error_kind, note_upstream_error
from gatewayz.telemetry.redact import redact_keys

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = (b"traceparent", b"tracestate")
_SPAN_KEY = "_gatewayz_span"


def tracer_provider(
    endpoint: str | None, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """A provider exporting to `exporter`, else over OTLP/HTTP to `endpoint`; None if neither."""
    if exporter is None:
        if not endpoint:
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=traces_url(endpoint))
    resource = Resource.create({"service.name": "gatewayz", "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def traces_url(endpoint: str) -> str:
    """The collector's traces URL: `endpoint` itself if it names it, else `/v1/traces` on it."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def start_request_span(context: RequestContext, scope: Scope) -> None:
    """Open the request's span (continuing the caller's trace if it sent `traceparent`)."""
    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in _TRACE_HEADERS
    }
    parent = _PROPAGATOR.extract(carrier) if carrier else None
    assert context.tracer is not None
    span = context.tracer.start_span(
        scope["method"],
        context=parent,
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": scope["method"],
            "url.path": redact_keys(scope["path"]),
            "gatewayz.request_id": context.request_id,
        },
    )
    context.span = span
    context.trace_id = format(span.get_span_context().trace_id, "032x")
    context.span_token = otel_context.attach(trace.set_span_in_context(span, parent))


def end_request_span(context: RequestContext, method: str, route: str) -> None:
    """Name the request's span after its route, note what the request did, and end it."""
    span = context.span
    assert span is not None and context.span_token is not None
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", context.status)
    if context.key_id is not None:
        span.set_attribute("gatewayz.key_id", context.key_id)
    if context.model:
        span.set_attribute("gatewayz.model", redact_keys(context.model))
    if context.provider:
        span.set_attribute("gatewayz.provider", context.provider)
    if context.status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
    otel_context.detach(context.span_token)


class Timed(Protocol):
    """Whatever adds up a call's time spent waiting on upstreams."""

    upstream_seconds: float


class UpstreamAttempt:
    """Around one upstream attempt: adds its time to `timed.upstream_seconds`, notes its
    failure for the metrics, and traces it as a child span naming provider and model."""

    __slots__ = ("_model", "_provider", "_span", "_started", "_timed")

    def __init__(self, timed: Timed, provider: str, model: str) -> None:
        self._timed = timed
        self._provider = provider
        self._model = model

    def __enter__(self) -> None:
        context = current()
        self._span: Span | None = None
        if context is not None and context.tracer is not None:
            self._span = context.tracer.start_span(
                f"upstream {self._provider}",
                kind=SpanKind.CLIENT,
                attributes={"gatewayz.provider": self._provider, "gatewayz.model": self._model},
            )
        self._started = perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timed.upstream_seconds += perf_counter() - self._started
        kind = None
        if isinstance(exc, UpstreamError):
            note_upstream_error(self._provider, exc.code)
            kind = error_kind(exc.code)
        span = self._span
        if span is not None:
            if exc is not None:
                span.set_attribute("error.type", kind or type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
            span.end()


def trace_database(engine: AsyncEngine, tracer: Tracer) -> None:
    """A span for every statement the engine runs: the SQL text, never its parameters."""
    sync_engine = engine.sync_engine
    system = sync_engine.dialect.name

    def before(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        execution = args[1]  # after the parameters, which are never read
        if execution is None:
            return
        operation = statement.split(None, 1)[0].upper() if statement else "SQL"
        span = tracer.start_span(
            f"{operation} {system}",
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.operation": operation, "db.statement": statement},
        )
        setattr(execution, _SPAN_KEY, span)

    def after(_conn: Any, _cursor: Any, _statement: str, *args: Any) -> None:
        span = getattr(args[1], _SPAN_KEY, None)
        if span is not None:
            span.end()

    def failed(error: Any) -> None:
        span = getattr(error.execution_context, _SPAN_KEY, None)
        if span is not None:
            span.set_attribute("error.type", type(error.original_exception).__name__)
            span.set_status(Status(StatusCode.ERROR))
            span.end()

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)

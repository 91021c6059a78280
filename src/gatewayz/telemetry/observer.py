"""Turns each request into metrics, one access-log line and, when tracing, a span."""

import logging
from time import perf_counter

from opentelemetry.trace import Tracer
from starlette.types import Scope

from gatewayz.telemetry import tracing
from gatewayz.telemetry.context import RequestContext, enter, leave
from gatewayz.telemetry.metrics import Metrics

access_logger = logging.getLogger("gatewayz.access")


class RequestObserver:
    """Opens a request's context when it arrives and reports on it when it is answered."""

    def __init__(self, metrics: Metrics, tracer: Tracer | None, access_log: bool) -> None:
        self._metrics = metrics
        self._tracer = tracer
        self._access_log = access_log

    def start(self, scope: Scope, request_id: str) -> RequestContext:
        """The new request's context, made current (with its span, if tracing)."""
        context = RequestContext(request_id, perf_counter(), self._tracer)
        enter(context)
        if self._tracer is not None:
            tracing.start_request_span(context, scope)
        return context

    def finish(self, scope: Scope, context: RequestContext) -> None:
        """Record the answered request; `context.status` is the status sent (or 500)."""
        seconds = perf_counter() - context.started
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self._metrics.observe_request(route, context, seconds)
        if self._access_log and access_logger.isEnabledFor(logging.INFO):
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                context.status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": context.status,
                    "latency_ms": round(seconds * 1000, 2),
                    "key_id": context.key_id,
                    "model": context.model or None,
                    "provider": context.provider or None,
                },
            )
        if context.span is not None:
            tracing.end_request_span(context, scope["method"], route)
        leave(context)

"""What one request did, noted by the layers it passes and read once it ends.

The request middleware opens a `RequestContext` for each request; authentication and the
relay note the key, model, provider, usage and upstream time in it through the `note_*`
functions, which do nothing outside a request. Metrics, the access log and the trace are
made from it when the request ends.
"""

from contextvars import ContextVar, Token
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.trace import Span, Tracer

from gatewayz.protocols.usage import Usage


@dataclass(slots=True)
class RequestContext:
    """One request's facts, as far as they are known yet."""

    request_id: str
    started: float
    tracer: Tracer | None = None
    span: Span | None = None
    span_token: "Token[Context] | None" = None
    trace_id: str | None = None
    status: int = 500
    key_id: int | None = None
    model: str = ""
    provider: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_units: int = 0
    shortfall_units: int = 0
    upstream_seconds: float = 0.0
    ttft_seconds: float | None = None
    upstream_errors: tuple[tuple[str, str], ...] = ()
    rate_limit_scope: str | None = None
    token: "Token[RequestContext | None] | None" = None


_current: ContextVar[RequestContext | None] = ContextVar("gatewayz_request", default=None)


def current() -> RequestContext | None:
    """The context of the request being served, if any."""
    return _current.get()


def enter(context: RequestContext) -> None:
    """Make `context` the current request's (until `leave`)."""
    context.token = _current.set(context)


def leave(context: RequestContext) -> None:
    """Undo `enter`."""
    assert context.token is not None
    _current.reset(context.token)


def error_kind(code: str | None) -> str:
    """A short, bounded name for an upstream error code: timeout, rate_limited, error, ..."""
    code = code or "upstream_error"
    return "error" if code == "upstream_error" else code.removeprefix("upstream_")


def note_key(key_id: int) -> None:
    """The id (never the key) of the API key the caller authenticated with."""
    context = _current.get()
    if context is not None:
        context.key_id = key_id


def note_model(model: str) -> None:
    """The model the call asked for, once routing has found it in the catalog."""
    context = _current.get()
    if context is not None:
        context.model = model


def note_upstream_error(provider: str, code: str | None) -> None:
    """One failed upstream attempt, or a stream that broke off, with the error's code."""
    context = _current.get()
    if context is not None:
        context.upstream_errors += ((provider, error_kind(code)),)


def note_shortfall(units: int) -> None:
    """The call cost `units` more than its credit hold covered (charged all the same)."""
    context = _current.get()
    if context is not None:
        context.shortfall_units += units


def note_rate_limited(scope: str) -> None:
    """The request was refused by a rate limit of `scope` (the first scope noted counts)."""
    context = _current.get()
    if context is not None and context.rate_limit_scope is None:
        context.rate_limit_scope = scope


def note_call(
    provider: str,
    usage: Usage | None,
    cost_units: int,
    upstream_seconds: float,
    first_byte: float | None,
) -> None:
    """How the relayed call ended: who served it, what it used and cost, the time spent
    waiting on upstreams, and when (`perf_counter`) the first streamed event arrived."""
    context = _current.get()
    if context is not None:
        context.provider = provider
        if usage is not None:
            context.input_tokens = usage.input_tokens
            context.output_tokens = usage.output_tokens
        context.cost_units = cost_units
        context.upstream_seconds = upstream_seconds
        if first_byte is not None:
            context.ttft_seconds = first_byte - context.started

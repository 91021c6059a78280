"""OpenTelemetry traces of real calls: the request's span, its upstream and database spans,
the trace id in a response header; nothing at all when tracing is not configured."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.app_services import Services
from gatewayz.telemetry.tracing import traces_url
from tests.conftest import Gateway, add_funded_user, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CHAT = "/v1/chat/completions"
PROMPT = "the secret word is zanzibar-purple-8812"


async def spans_flushed(state: Services) -> None:
    """Export the spans the batch processor holds now."""
    await asyncio.to_thread(state.telemetry.tracer_provider.force_flush)


async def spans_of(state: Services, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """Every span finished so far."""
    await spans_flushed(state)
    return list(exporter.get_finished_spans())


@pytest.fixture
async def traced(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[tuple[str, Any, InMemorySpanExporter, str]]:
    _, key = await add_funded_user(engine, "traced@example.com", "10")
    exporter = InMemorySpanExporter()
    settings = gateway_settings(database_url, upstream)
    async with serve(settings, span_exporter=exporter) as (base_url, state):
        yield base_url, state, exporter, key


async def test_a_call_is_traced_with_upstream_and_database_spans(
    traced: tuple[str, Any, InMemorySpanExporter, str],
) -> None:
    base_url, state, exporter, key = traced
    body = {"model": "fake/fake-model", "messages": [{"role": "user", "content": PROMPT}]}
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        answer = await client.post(CHAT, json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    trace_id = answer.headers["x-trace-id"]
    assert len(trace_id) == 32

    spans = [s for s in await spans_of(state, exporter) if f"{s.context.trace_id:032x}" == trace_id]
    (incoming,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert incoming.name == f"POST {CHAT}"
    assert incoming.attributes is not None
    assert incoming.attributes["http.response.status_code"] == 200
    assert incoming.attributes["gatewayz.request_id"] == answer.headers["x-request-id"]
    assert incoming.attributes["gatewayz.model"] == "fake/fake-model"
    assert incoming.attributes["gatewayz.provider"] == "fake"
    (upstream,) = [s for s in spans if s.name == "upstream fake"]
    assert upstream.parent is not None and upstream.parent.span_id == incoming.context.span_id
    assert upstream.attributes == {"gatewayz.provider": "fake", "gatewayz.model": "fake-model"}
    database = [s for s in spans if s.attributes and "db.system" in s.attributes]
    assert database, "the key lookup and the credit hold run statements in the request's trace"
    assert all(s.attributes and s.attributes["db.statement"] for s in database)
    for span in spans:
        text = repr(span.to_json())
        assert key not in text and key[:16] not in text, "no key in a trace"
        assert "zanzibar" not in text, "no prompt text in a trace"


async def test_a_call_continues_the_callers_trace(
    traced: tuple[str, Any, InMemorySpanExporter, str],
) -> None:
    base_url, state, exporter, key = traced
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {
        "Authorization": f"Bearer {key}",
        "traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01",
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        answer = await client.get("/v1/models", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["x-trace-id"] == caller_trace
    (incoming,) = [s for s in await spans_of(state, exporter) if s.kind is SpanKind.SERVER]
    assert incoming.parent is not None and incoming.parent.span_id == 0x00F067AA0BA902B7


async def test_without_an_endpoint_nothing_is_traced(gateway: Gateway) -> None:
    assert gateway.services.telemetry.tracer_provider is None
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as client:
        answer = await client.post(
            CHAT, json={"model": "fake/fake-model", "messages": [{"role": "user", "content": "hi"}]}
        )
    assert answer.status_code == 200
    assert "x-trace-id" not in answer.headers


def test_the_otlp_endpoint_may_name_the_collector_or_its_traces_url() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("https://otel.example/v1/traces") == "https://otel.example/v1/traces"


async def test_spans_are_exported_over_otlp_http_to_the_configured_endpoint(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    """A real OTLP/HTTP collector (a local server) receives the request's spans."""
    received: list[ExportTraceServiceRequest] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(ExportTraceServiceRequest.FromString(await request.read()))
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    _, key = await add_funded_user(engine, "otlp@example.com", "10")
    settings = gateway_settings(database_url, upstream, otlp_endpoint=f"http://127.0.0.1:{port}")
    try:
        async with serve(settings) as (base_url, state):
            async with httpx.AsyncClient(base_url=base_url) as client:
                answer = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
            await spans_flushed(state)
    finally:
        await runner.cleanup()
    names = {
        span.name
        for batch in received
        for resource in batch.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert "GET /v1/models" in names
    trace_ids = {
        span.trace_id.hex()
        for batch in received
        for resource in batch.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert answer.headers["x-trace-id"] in trace_ids

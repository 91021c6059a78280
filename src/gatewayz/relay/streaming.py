"""The steps of a streamed call: open the upstream stream within its first-byte limit, then
forward its events in the client's format as they arrive, and settle when it ends."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence

from gatewayz.errors import UpstreamError
from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.providers.base import EventStream
from gatewayz.providers.catalog import Route
from gatewayz.providers.sse import Chunk, Event
from gatewayz.relay.call import CLIENT_CLOSED, Call
from gatewayz.relay.exchange import StreamCodec, Target
from gatewayz.relay.settlement import Settlement
from gatewayz.routing.health import HealthBoard
from gatewayz.telemetry.context import note_upstream_error
from gatewayz.telemetry.tracing import UpstreamAttempt

log = logging.getLogger(__name__)


async def open_stream(call: Call, target: Target) -> tuple[EventStream, StreamCodec, bytes]:
    """Open the upstream stream on the target and convert its first event within the
    provider's first-byte limit."""
    assert call.exchange.open is not None
    route = target.route
    call.route = route
    provider = route.provider
    limit = provider.spec.first_byte_timeout_seconds
    with UpstreamAttempt(call, provider.name, route.model.id):
        try:
            async with asyncio.timeout(limit):
                stream, codec = await call.exchange.open(target)
                try:
                    first = _convert(provider.name, codec, await anext(stream))
                    while not first:  # events the client does not see (e.g. usage only)
                        first = _convert(provider.name, codec, await anext(stream))
                except StopAsyncIteration:
                    await stream.aclose()
                    raise UpstreamError(
                        provider.name, "ended the stream without any event"
                    ) from None
                except BaseException as exc:
                    if isinstance(exc, asyncio.CancelledError):  # the upstream had answered
                        call.codec = codec
                    await stream.aclose()
                    raise
        except TimeoutError:  # (a cancellation by the timeout, not by the client)
            call.codec = None
            raise UpstreamError(
                provider.name,
                f"sent nothing within {limit:g} s",
                status=504,
                code="upstream_timeout",
            ) from None
    call.first_byte = time.perf_counter()
    return stream, codec, first


async def forward(
    call: Call,
    route: Route,
    opened: tuple[EventStream, StreamCodec, bytes],
    health: HealthBoard,
    settlement: Settlement,
) -> AsyncIterator[bytes]:
    """Forward the opened stream's events as they arrive, then settle, however the stream
    ends: at the usage the upstream reported, or else at the estimate from what it sent (see
    protocols.usage)."""
    stream, codec, first = opened
    status, error = 200, None
    answered = False
    try:
        if first:
            yield first
        waited = time.perf_counter()
        async for batch in stream:
            call.upstream_seconds += time.perf_counter() - waited
            out = _convert(route.provider.name, codec, batch)
            if out:
                yield out
            waited = time.perf_counter()
        call.upstream_seconds += time.perf_counter() - waited
        closing = b"".join(codec.close())
        answered = True
        yield closing
    except UpstreamError as exc:
        status, error = exc.status, exc.message
        note_upstream_error(route.provider.name, exc.code)
        health.record(route.provider.name, route.model.id, False, 0.0, exc.message)
        yield codec.error(exc)
    except (asyncio.CancelledError, GeneratorExit):
        status, error = CLIENT_CLOSED, "client closed the connection"
        raise
    except Exception as exc:
        log.exception("stream from %s failed", route.provider.name)
        status, error = 500, f"internal error ({type(exc).__name__})"
        yield codec.error(UpstreamError(route.provider.name, "the stream failed", status=500))
    finally:
        await stream.aclose()
        usage = codec.tally.usage(call.exchange.plan.body_size)
        settlement.finish(call, usage, status, error, answered, codec.reply if answered else None)


def _convert(provider: str, codec: StreamCodec, batch: Sequence[Event | Chunk]) -> bytes:
    """A batch of upstream events in the client's format, with the upstream's faults named
    after it."""
    try:
        return b"".join(out for event in batch for out in codec.convert(event))
    except UpstreamStreamError as exc:
        raise UpstreamError(provider, exc.message) from None
    except ValueError:
        raise UpstreamError(provider, "sent a malformed stream event") from None

"""The request log: one row per call, written in batches off the request path."""

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.store.bounded import fit, text_limits
from gatewayz.store.tables import request_logs


@dataclass(frozen=True, slots=True)
class RequestLogRow:
    request_id: str
    user_id: int
    key_id: int
    api: str
    model: str
    provider: str | None
    provider_model: str | None
    stream: bool
    status_code: int
    error: str | None
    input_tokens: int
    output_tokens: int
    usage_estimated: bool
    cost_units: int
    latency_ms: int
    ttft_ms: int | None
    created_at: datetime
    dropped: str | None = None
    cache_read_tokens: int = 0  # of input_tokens (see protocols.usage)
    cache_write_tokens: int = 0


_FIELDS = tuple(f.name for f in fields(RequestLogRow))
_LIMITS = text_limits(request_logs)


async def write(conn: AsyncConnection, rows: list[RequestLogRow]) -> None:
    """The batch writer's sink; text longer than its column (a model name sent by a client,
    say) is cut to fit, so that one row cannot fail the batch."""
    await conn.execute(
        request_logs.insert(),
        [fit({name: getattr(row, name) for name in _FIELDS}, _LIMITS) for row in rows],
    )

"""The request log: one row per call, written in batches off the request path."""

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

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


async def write(conn: AsyncConnection, rows: list[RequestLogRow]) -> None:
    await conn.execute(request_logs.insert(), [asdict(row) for row in rows])

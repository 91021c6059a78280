"""Request log rows with known values, written straight to the store."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.telemetry import request_log
from gatewayz.telemetry.request_log import RequestLogRow

NOON = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)

_DEFAULT = RequestLogRow(
    request_id="req",
    user_id=1,
    key_id=11,
    api="chat.completions",
    model="m-a",
    provider="p1",
    provider_model="a",
    stream=False,
    status_code=200,
    error=None,
    input_tokens=0,
    output_tokens=0,
    usage_estimated=False,
    cost_units=0,
    latency_ms=100,
    ttft_ms=None,
    created_at=NOON,
)


def row(**values: Any) -> RequestLogRow:
    """A request log row: the defaults above with `values` replacing some."""
    return replace(_DEFAULT, **values)


async def insert(engine: AsyncEngine, rows: list[RequestLogRow]) -> None:
    async with engine.begin() as conn:
        await request_log.write(conn, rows)

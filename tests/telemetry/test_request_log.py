"""Request-log rows reach the store whatever a client sent: text longer than its column is
cut to fit instead of failing the batch it was written with."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.batch import BatchWriter
from gatewayz.store.tables import request_logs
from gatewayz.telemetry import request_log
from tests.telemetry.rows import row


async def test_a_400_character_model_does_not_fail_the_batch_it_is_written_with(
    engine: AsyncEngine,
) -> None:
    writer = BatchWriter(engine, [("request_logs", request_log.write)], interval=60, max_batch=1000)
    long_model = "m" * 399 + "é"
    writer.add("request_logs", row(request_id="before"))
    writer.add("request_logs", row(request_id="long", model=long_model, provider_model=long_model))
    writer.add("request_logs", row(request_id="after"))
    await writer.flush()
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                select(
                    request_logs.c.request_id, request_logs.c.model, request_logs.c.provider_model
                ).order_by(request_logs.c.id)
            )
        ).all()
    assert [r[0] for r in stored] == ["before", "long", "after"]
    assert stored[1][1:] == ("m" * 300, "m" * 300)
    await writer.stop()

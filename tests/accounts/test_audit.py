"""Queued audit events reach the store whatever their text: too long is cut to its column."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import audit
from gatewayz.store.batch import BatchWriter
from gatewayz.store.tables import audit_logs


async def test_overlong_text_in_a_queued_event_is_cut_to_fit(engine: AsyncEngine) -> None:
    writer = BatchWriter(engine, [(audit.SINK, audit.write)], interval=60, max_batch=1000)
    audit.queue(writer, audit.AuditEvent("auth.failed", source_ip="1.2.3.4"))
    audit.queue(writer, audit.AuditEvent("key.refused", target_id="k" * 500, source_ip="x" * 99))
    await writer.flush()
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                select(audit_logs.c.event, audit_logs.c.target_id, audit_logs.c.source_ip).order_by(
                    audit_logs.c.id
                )
            )
        ).all()
    assert [tuple(r) for r in stored] == [
        ("auth.failed", None, "1.2.3.4"),
        ("key.refused", "k" * 64, "x" * 64),
    ]
    await writer.stop()

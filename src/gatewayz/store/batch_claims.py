"""Which batches are applied: each batch writer numbers its batches and commits them in
increasing order, recording the last number it committed (`batch_writers.last_seq`) in the
batch's own transaction. A batch whose number is not above the recorded one was applied
already, so a batch retried after a commit with an unknown outcome, or replayed from a
journal, is applied exactly once.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gatewayz.store.tables import batch_writers

# A writer's row is kept this long after its last batch. A journal batch older than
# REPLAY_DAYS is not replayed (its writer's row may be gone): see store.journal.
KEEP_DAYS = 30
REPLAY_DAYS = KEEP_DAYS - 1


async def claim(conn: AsyncConnection, writer: str, seq: int) -> bool:
    """Record in the caller's transaction that `writer` commits batch `seq`; False if that
    batch (or a later one of the writer) was committed already.

    On PostgreSQL the row lock waits for a transaction of the same batch still in flight,
    so two attempts of one batch can never both commit.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = datetime.now(UTC)
    insert = dialect.insert(batch_writers).values(id=writer, last_seq=seq, updated_at=now)
    result = await conn.execute(
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_={"last_seq": insert.excluded.last_seq, "updated_at": now},
            where=batch_writers.c.last_seq < insert.excluded.last_seq,
        )
    )
    return result.rowcount == 1


async def probe(engine: AsyncEngine, writer: str) -> None:
    """A write transaction that changes nothing visible: raises if the database cannot
    take writes now."""
    async with engine.begin() as conn:
        await conn.execute(
            update(batch_writers)
            .where(batch_writers.c.id == writer)
            .values(updated_at=datetime.now(UTC))
        )


async def prune(engine: AsyncEngine) -> int:
    """Forget writers that committed nothing for KEEP_DAYS; returns how many."""
    cutoff = datetime.now(UTC) - timedelta(days=KEEP_DAYS)
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(batch_writers).where(batch_writers.c.updated_at < cutoff)
        )
    return result.rowcount

"""Alembic environment: runs migrations on the async engine named in the Alembic config."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gatewayz.store.engine import create_engine, is_sqlite
from gatewayz.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _migration_engine(url: str) -> AsyncEngine:
    """The engine for migrations. On SQLite, foreign keys stay off (SQLite's default): a
    batch migration rebuilds a table by dropping it, which would otherwise cascade."""
    return create_async_engine(url) if is_sqlite(url) else create_engine(url)


async def _run_online() -> None:
    engine = _migration_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_run_online())

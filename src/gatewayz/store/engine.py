"""The async database engine, configured per backend."""

from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, sqlite_busy_timeout: float = 30.0) -> AsyncEngine:
    """An engine with the pool and per-connection settings that suit its backend; on SQLite a
    write waits up to `sqlite_busy_timeout` seconds for another connection's lock."""
    if is_sqlite(url):
        # One connection: SQLite allows one writer at a time, and queueing for the pool in
        # this process is far faster than SQLite's sleeping busy handler.
        engine = create_async_engine(
            url,
            connect_args={"timeout": sqlite_busy_timeout},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
        pragmas = partial(_sqlite_pragmas, busy_ms=round(sqlite_busy_timeout * 1000))
        event.listen(engine.sync_engine, "connect", pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_ms: int) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN, so read-then-write transactions never hit BUSY."""
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN IMMEDIATE")

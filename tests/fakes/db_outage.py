"""Database trouble for a gateway, on either backend: an outage (PostgreSQL behind a TCP proxy
that is cut; SQLite locked by another connection, as a backup tool or a long admin
transaction would, for longer than the gateway's busy timeout), or a commit whose answer is
lost."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fakes.tcp_proxy import TcpProxy

SQLITE_BUSY_SECONDS = 0.2


class DatabaseOutage:
    """`url` is what the gateway connects to; `settings` what it needs besides."""

    def __init__(self, url: str, proxy: TcpProxy | None) -> None:
        self.url = url
        self.settings: dict[str, Any] = {}
        self._proxy = proxy
        self._lock: sqlite3.Connection | None = None
        if proxy is None:
            self.settings["sqlite_busy_timeout_seconds"] = SQLITE_BUSY_SECONDS

    async def begin(self) -> None:
        """From now on the gateway cannot write to the database."""
        if self._proxy is not None:
            self._proxy.cut()
            return
        path = make_url(self.url).database
        assert path
        self._lock = sqlite3.connect(
            path, timeout=10, isolation_level=None, check_same_thread=False
        )
        await asyncio.to_thread(self._lock.execute, "BEGIN EXCLUSIVE")

    async def end(self) -> None:
        if self._proxy is not None:
            self._proxy.restore()
            return
        assert self._lock is not None
        await asyncio.to_thread(self._lock.execute, "ROLLBACK")
        self._lock.close()
        self._lock = None

    def drop_connections(self) -> None:
        """Close the gateway's database connections in flight (PostgreSQL only)."""
        assert self._proxy is not None
        self._proxy.drop()


@asynccontextmanager
async def database_outage(database_url: str) -> AsyncIterator[DatabaseOutage]:
    """An outage maker for the test database at `database_url`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        outage = DatabaseOutage(database_url, None)
        try:
            yield outage
        finally:
            if outage._lock is not None:
                await outage.end()
        return
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        gateway_url = url.set(port=proxy.port).render_as_string(hide_password=False)
        yield DatabaseOutage(gateway_url, proxy)


@contextmanager
def answer_lost_after_commit(engine: AsyncEngine, statement: str) -> Iterator[asyncio.Event]:
    """The first commit through `engine` of a transaction that ran a statement beginning
    with `statement` takes effect, then raises as a lost connection (or a disk error
    reported late) would; the event is set once it did."""
    lost = asyncio.Event()
    sync_engine = engine.sync_engine

    def noted(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.startswith(statement):
            conn.info["inserted"] = True

    def forgotten(conn: Any) -> None:
        conn.info.pop("inserted", None)

    def committed(conn: Any) -> None:
        if conn.info.pop("inserted", False) and not lost.is_set():
            conn.connection.dbapi_connection.commit()
            lost.set()
            raise ConnectionResetError("the connection was lost during COMMIT")

    listeners = [("before_cursor_execute", noted), ("rollback", forgotten), ("commit", committed)]
    for name, listener in listeners:
        event.listen(sync_engine, name, listener)
    try:
        yield lost
    finally:
        for name, listener in listeners:
            event.remove(sync_engine, name, listener)

"""Engines and session factories for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite runs in WAL mode with foreign keys and a busy timeout. Its transactions start with
``BEGIN IMMEDIATE`` for requests that write (unsafe methods), so concurrent writers queue on the
busy timeout instead of failing on a lock upgrade; reads (safe methods) run in autocommit mode,
statement by statement, and never block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from convobase.config import Settings
from convobase.db.outage import Outage, outage

SQLITE_BUSY_TIMEOUT_MS = 10_000


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # Parameters (message text, emails, token hashes, ciphertexts) never reach an error's
        # text, so they never reach the logs either.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": not echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            # Every session ends in commit or rollback, so the pool's extra rollback on return
            # would only cost another trip to the driver's thread.
            kwargs["pool_reset_on_return"] = None
            # Each aiosqlite connection is a thread; a few suffice (writers queue on one lock
            # anyway) and fewer threads contend less for the GIL.
            kwargs.update(pool_size=pool_size, max_overflow=0)
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        event.listen(self.engine.sync_engine, "handle_error", _drop_broken_connections)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
            read_engine = self.engine.execution_options(sqlite_begin="")
        else:
            write_engine = read_engine = self.engine
        self.read_sessions = async_sessionmaker(read_engine, expire_on_commit=False)
        self.write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)

    def session(self, *, write: bool = True) -> AsyncSession:
        return (self.write_sessions if write else self.read_sessions)()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.resolved_database_url, pool_size=settings.database_pool_size)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that "begin" below decides the mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The page cache stays at SQLite's default (about 2 MB per connection): a 16 MB one
        # (cache_size) or memory-mapped reads (mmap_size) made no measurable difference to the
        # app's reads (list pages, last 50 messages, search; benchmarks/bench_conversations.py)
        # on a warm OS page cache, while the bigger cache grew the process by ~6 MB per
        # pooled connection. Reads that miss it are served from the OS page cache.
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # "" (reads): no BEGIN at all; each statement reads a consistent WAL snapshot on its
        # own, and the request saves a round trip to the driver's thread.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode:
            conn.exec_driver_sql(f"BEGIN {mode}")


def _drop_broken_connections(context: ExceptionContext) -> None:
    """A connection an outage broke is invalidated, with the pool's other connections (a restart
    ends them all), so the next request reconnects instead of meeting it again. SQLAlchemy
    recognises some lost connections itself; this adds the rest that ``outage`` knows (asyncpg's
    broken protocol state, 57P01 after pg_terminate_backend, SQLite's I/O errors...)."""
    if outage(context.original_exception) is Outage.DISCONNECTED:
        context.is_disconnect = True

"""Count what the app asks of its database: SQL statements, transactions and driver round trips.

Attached to the app's real engine (``runtime.database.engine``); nothing is replaced or faked,
the counter only watches:

- ``statements``: SQLAlchemy's ``before_cursor_execute`` (every statement handed to the driver,
  SQLite's ``BEGIN IMMEDIATE`` included, as the app issues it itself as SQL);
- ``begins`` / ``commits`` / ``rollbacks``: SQLAlchemy's connection events;
- ``checkouts``: connections taken from the pool (on PostgreSQL each one is pre-pinged);
- on PostgreSQL, ``round_trips``: every message exchange asyncpg has with the server, counted
  where asyncpg's protocol is called (its ``query``/``prepare``/``bind_execute``... methods).
  That includes what the dialect sends on its own and SQLAlchemy's events never see: the
  ``BEGIN``/``COMMIT``/``ROLLBACK`` of every transaction, the pool's pre-ping (``BEGIN; ;
  ROLLBACK`` on asyncpg) and the ``PREPARE`` of a statement not yet in a connection's cache.

asyncpg's protocol object is a compiled class whose methods cannot be patched, so each new
connection's protocol is wrapped in a forwarding proxy (see ``_CountingProtocol``). Only
connections opened after ``attach`` are wrapped: ``attach`` empties the pool first.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# asyncpg protocol methods that send messages and wait for the server's answer.
_ROUND_TRIPS = frozenset(
    {
        "query",  # simple query: BEGIN, COMMIT, ROLLBACK, Connection.execute() without args
        "prepare",  # Parse/Describe/Sync: a statement not yet in the connection's cache
        "bind_execute",  # Bind/Execute/Sync: a prepared statement run
        "bind_execute_many",  # executemany (pipelined; one wait)
        "bind",
        "execute",
        "close_statement",
        "copy_in",
        "copy_out",
    }
)
_SPACES = re.compile(r"\s+")


@dataclass
class Counts:
    statements: int = 0
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    checkouts: int = 0
    round_trips: int = 0  # PostgreSQL only (asyncpg); 0 on SQLite
    round_trip_kinds: Counter[str] = field(default_factory=Counter)
    sql: list[str] = field(default_factory=list)
    # Everything in order: "checkout", "begin", each statement, "commit", "rollback".
    trace: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "statements": self.statements,
            "begins": self.begins,
            "commits": self.commits,
            "rollbacks": self.rollbacks,
            "checkouts": self.checkouts,
            "round_trips": self.round_trips,
        }


class _CountingProtocol:
    """Forwards everything to asyncpg's protocol; counts the calls that wait on the server."""

    def __init__(self, protocol: Any, counter: StatementCounter) -> None:
        object.__setattr__(self, "_wrapped", protocol)
        object.__setattr__(self, "_counter", counter)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._wrapped, name)
        if name not in _ROUND_TRIPS:
            return attribute
        counter = self._counter

        def counted(*args: Any, **kwargs: Any) -> Any:
            counter.round_trip(name, args)
            return attribute(*args, **kwargs)

        return counted

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._wrapped, name, value)


class StatementCounter:
    """Counts into ``counts``; ``reset()`` between requests."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self.counts = Counts()

    async def attach(self) -> None:
        sync_engine = self.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", self._on_statement)
        event.listen(sync_engine, "begin", self._on_begin)
        event.listen(sync_engine, "commit", self._on_commit)
        event.listen(sync_engine, "rollback", self._on_rollback)
        event.listen(sync_engine, "checkout", self._on_checkout)
        if self.is_postgres:
            event.listen(sync_engine, "connect", self._on_connect)
        # Connections pooled before now carry no counting proxy: start from an empty pool (a new
        # pool; pool events listened for on the engine carry over to it).
        await self.engine.dispose()

    def detach(self) -> None:
        sync_engine = self.engine.sync_engine
        event.remove(sync_engine, "before_cursor_execute", self._on_statement)
        event.remove(sync_engine, "begin", self._on_begin)
        event.remove(sync_engine, "commit", self._on_commit)
        event.remove(sync_engine, "rollback", self._on_rollback)
        event.remove(sync_engine, "checkout", self._on_checkout)
        if self.is_postgres:
            event.remove(sync_engine, "connect", self._on_connect)

    def reset(self) -> Counts:
        counts, self.counts = self.counts, Counts()
        return counts

    def round_trip(self, kind: str, args: tuple[Any, ...]) -> None:
        self.counts.round_trips += 1
        if kind == "query" and args and isinstance(args[0], str):
            kind = f"query {args[0].strip().rstrip(';').split(' ')[0].upper()}"
        self.counts.round_trip_kinds[kind] += 1

    def _on_statement(self, *args: Any) -> None:
        statement: str = args[2]
        self.counts.statements += 1
        self.counts.sql.append(_SPACES.sub(" ", statement).strip())
        self.counts.trace.append(self.counts.sql[-1])

    def _on_begin(self, *_: Any) -> None:
        self.counts.begins += 1
        self.counts.trace.append("begin")

    def _on_commit(self, *_: Any) -> None:
        self.counts.commits += 1
        self.counts.trace.append("commit")

    def _on_rollback(self, *_: Any) -> None:
        self.counts.rollbacks += 1
        self.counts.trace.append("rollback")

    def _on_checkout(self, *_: Any) -> None:
        self.counts.checkouts += 1
        self.counts.trace.append("checkout")

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        driver_connection = dbapi_connection.driver_connection  # asyncpg.Connection
        driver_connection._protocol = _CountingProtocol(driver_connection._protocol, self)

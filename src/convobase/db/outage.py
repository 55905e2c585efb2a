"""Whether an error means "the database is away for now" rather than a bug: the one place that
decides, from the drivers' exception classes, SQLSTATE classes and SQLite result codes.

A database that restarts, is cut off, refuses connections or stays locked past the busy timeout
answers 503 ``database_unavailable`` with ``Retry-After`` (``errors.py``, ``middleware.py`` and
the gateway's route ask ``outage``), and the engine drops the connections such an error left
broken (``engine.py``), so requests succeed again as soon as the database is back.
"""

from __future__ import annotations

import enum
import socket
import sqlite3
from types import TracebackType

import asyncpg  # type: ignore[import-untyped]  # no stubs; only its exception classes are used
from sqlalchemy import exc as sa_exc


class Outage(enum.Enum):
    # The connection is gone or cannot be made (restart, shutdown, network, unreadable file):
    # the pool must reconnect.
    DISCONNECTED = "disconnected"
    # The database answers but refuses work for now (locked, too many connections, disk full):
    # the connection itself is fine.
    REFUSING = "refusing"


# Class 08 (connection_exception) is matched by prefix. 57P01 admin_shutdown (fast shutdown,
# pg_terminate_backend), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or shutting
# down), 57P05 idle_session_timeout.
_DISCONNECTED_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05"})
# 53300 too_many_connections; 53400 configuration_limit_exceeded (per-role/database limits).
_REFUSING_SQLSTATES = frozenset({"53300", "53400"})

# SQLite's primary result codes (the low byte of sqlite_errorcode; extended codes such as
# SQLITE_IOERR_SHORT_READ share it). SQLITE_BUSY/LOCKED arrive after the busy timeout.
_DISCONNECTED_SQLITE = frozenset(
    {
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_PROTOCOL,
    }
)
_REFUSING_SQLITE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL})

# An OSError raised straight through these packages is the database's socket or file failing.
_DRIVER_MODULES = ("asyncpg", "aiosqlite", "sqlite3", "sqlalchemy")

# The exception types that may carry an outage: the error handlers are registered for these.
DATABASE_ERROR_TYPES: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    sqlite3.Error,
    OSError,
)


def outage(error: BaseException) -> Outage | None:
    """What ``error`` (or the driver error it wraps) says about the database, or None when it
    is not an outage (a bug, a constraint, bad input...)."""
    for depth, link in enumerate(error_chain(error)):
        kind = _classify(link, wrapped=depth > 0)
        if kind is not None:
            return kind
    return None


def is_database_unavailable(error: BaseException) -> bool:
    return outage(error) is not None


def error_chain(error: BaseException) -> list[BaseException]:
    """The error, the driver error SQLAlchemy wrapped (``orig``), and their explicit causes
    (``raise ... from``); never ``__context__``, which may be an unrelated earlier error."""
    links: list[BaseException] = []
    pending: BaseException | None = error
    while pending is not None and pending not in links and len(links) < 8:
        links.append(pending)
        orig = getattr(pending, "orig", None)
        pending = orig if isinstance(orig, BaseException) else pending.__cause__
    return links


def _classify(error: BaseException, *, wrapped: bool) -> Outage | None:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return Outage.DISCONNECTED  # SQLAlchemy's dialect recognised a lost connection
    if isinstance(error, sa_exc.DisconnectionError):
        return Outage.DISCONNECTED
    if isinstance(error, sa_exc.TimeoutError):
        return Outage.REFUSING  # every pooled connection busy for pool_timeout seconds
    sqlstate = _sqlstate(error)
    if sqlstate is not None:
        if sqlstate.startswith("08") or sqlstate in _DISCONNECTED_SQLSTATES:
            return Outage.DISCONNECTED
        return Outage.REFUSING if sqlstate in _REFUSING_SQLSTATES else None
    if isinstance(error, asyncpg.exceptions.InternalClientError):
        # asyncpg's protocol state broke, as it does when the server goes away mid-query.
        return Outage.DISCONNECTED
    if isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error):
        return Outage.DISCONNECTED
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            primary = code & 0xFF
            if primary in _DISCONNECTED_SQLITE:
                return Outage.DISCONNECTED
            if primary in _REFUSING_SQLITE:
                return Outage.REFUSING
        return None
    if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
        return Outage.DISCONNECTED
    if isinstance(error, OSError) and (wrapped or _raised_in_driver(error.__traceback__)):
        # e.g. "Multiple exceptions: ..." when every address of the host refused, or EHOSTUNREACH
        return Outage.DISCONNECTED
    return None


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else None


def _raised_in_driver(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith(_DRIVER_MODULES):
            return True
        traceback = traceback.tb_next
    return False

"""Telling a database outage from a bug (db/outage.py), with the drivers' real errors: asyncpg's
exceptions as SQLAlchemy's asyncpg adapter wraps them, a PostgreSQL backend really terminated,
SQLite files that cannot be opened or stay locked. The restart under load is in
tests/e2e/test_database_restart.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, dialect
from sqlalchemy.exc import DBAPIError

from convobase.app import create_app
from convobase.db import engine as engine_module
from convobase.db.engine import Database
from convobase.db.outage import Outage, is_database_unavailable, outage
from tests.conftest import make_settings

_ASYNCPG_DBAPI = dialect.import_dbapi()
exceptions = asyncpg.exceptions


def as_sqlalchemy_raises(driver_error: Exception) -> BaseException:
    """What a statement that met ``driver_error`` raises: the adapter's translation, wrapped
    in SQLAlchemy's DBAPIError (or the bare error, for what the adapter does not translate)."""
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(_ASYNCPG_DBAPI, driver_error)
    except _ASYNCPG_DBAPI.Error as adapted:
        return DBAPIError.instance("SELECT 1", None, adapted, _ASYNCPG_DBAPI.Error)
    except Exception as bare:
        return bare
    raise AssertionError("the adapter always raises")


LOST = [
    exceptions.CannotConnectNowError("the database system is starting up"),  # 57P03
    exceptions.CannotConnectNowError("the database system is shutting down"),
    exceptions.AdminShutdownError("terminating connection due to administrator command"),
    exceptions.CrashShutdownError("terminating connection because of crash of another"),
    exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    exceptions.ConnectionFailureError("server closed the connection unexpectedly"),  # 08006
    exceptions.ProtocolViolationError("unexpected message"),  # 08P01
    exceptions.InternalClientError("cannot switch to state 12; another operation is in progress"),
    exceptions.InterfaceError("cannot perform operation: connection is closed"),
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionRefusedError(111, "Connect call failed"),
]
REFUSING = [exceptions.TooManyConnectionsError("sorry, too many clients already")]  # 53300
NOT_OUTAGES = [
    exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
    exceptions.UndefinedTableError('relation "nothing" does not exist'),
    exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding"),  # 22021
    exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    exceptions.DataError("invalid input for query argument $1"),  # bad input, not an outage
    exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    ValueError("not a database error"),
]


@pytest.mark.parametrize("driver_error", LOST, ids=lambda e: type(e).__name__)
def test_lost_connections_are_outages(driver_error: Exception) -> None:
    assert outage(as_sqlalchemy_raises(driver_error)) is Outage.DISCONNECTED
    assert outage(driver_error) is Outage.DISCONNECTED  # also when raised bare


@pytest.mark.parametrize("driver_error", REFUSING, ids=lambda e: type(e).__name__)
def test_a_full_server_refuses_for_now(driver_error: Exception) -> None:
    assert outage(as_sqlalchemy_raises(driver_error)) is Outage.REFUSING


@pytest.mark.parametrize("driver_error", NOT_OUTAGES, ids=lambda e: type(e).__name__)
def test_other_errors_are_not_outages(driver_error: Exception) -> None:
    assert not is_database_unavailable(as_sqlalchemy_raises(driver_error))


@pytest.mark.postgres
async def test_a_terminated_backend_is_an_outage_and_the_next_query_reconnects(
    postgres_url: str,
) -> None:
    """pg_terminate_backend on this test's own connection (no other session is touched)."""
    database = Database(postgres_url, pool_size=1)
    admin = await asyncpg.connect(
        postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10
    )
    try:
        async with database.engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever the driver says
                await conn.execute(text("SELECT 1"))
        assert outage(caught.value) is Outage.DISCONNECTED, repr(caught.value)
        # The broken connection was dropped, not handed out again.
        async with database.engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await admin.close()
        await database.dispose()


async def _sqlite_error(url: str, sql: str) -> BaseException:
    database = Database(url)
    try:
        with pytest.raises(DBAPIError) as caught:
            async with database.engine.connect() as conn:
                await conn.execute(text(sql))
        return caught.value
    finally:
        await database.dispose()


async def _cannot_open(tmp_path: Path) -> BaseException:
    """A real SQLITE_CANTOPEN: the database path is a directory."""
    error = await _sqlite_error(f"sqlite+aiosqlite:///{tmp_path}", "SELECT 1")
    # aiosqlite stops a connection that failed to open without waiting for its thread: let the
    # thread finish while this test's event loop is still open.
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=5)
    return error


async def test_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path: Path) -> None:
    error = await _cannot_open(tmp_path)
    assert outage(error) is Outage.DISCONNECTED, repr(error)


async def test_sqlite_locked_past_the_busy_timeout_refuses_for_now(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    holder = Database(sqlite_url)
    try:
        async with holder.session(write=True) as writing:  # BEGIN IMMEDIATE: holds the lock
            await writing.execute(text("DELETE FROM users"))
            error = await _sqlite_error(sqlite_url, "DELETE FROM users")
            await writing.rollback()
        assert "locked" in str(error)
        assert outage(error) is Outage.REFUSING
    finally:
        await holder.dispose()


async def test_sqlite_sql_errors_are_bugs_not_outages(sqlite_url: str) -> None:
    error = await _sqlite_error(sqlite_url, "SELECT * FROM no_such_table")
    assert not is_database_unavailable(error)


async def _answer(tmp_path: Path, method: str, path: str, **kwargs: Any) -> httpx.Response:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    app = create_app(make_settings(tmp_path, database_url=unreachable))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, **kwargs)


async def test_gateway_answers_an_outage_in_openai_shape(tmp_path: Path) -> None:
    response = await _answer(
        tmp_path, "GET", "/v1/models", headers={"Authorization": "Bearer cbk_whatever"}
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error": {
            "message": "The database is busy or unreachable; retry shortly",
            "type": "api_error",
            "param": None,
            "code": "database_unavailable",
        }
    }


@pytest.mark.parametrize("path", ["/api/v1/export", "/v1/chat/completions"])
async def test_an_outage_outside_the_error_handlers_is_503_in_the_paths_shape(
    tmp_path: Path, path: str
) -> None:
    """Raised where no exception handler runs (a middleware, a streamed body before its first
    byte): the outermost middleware still answers 503, in OpenAI's shape on /v1."""
    from starlette.types import Receive, Scope, Send

    from convobase.middleware import RequestContextMiddleware

    cannot_open = await _cannot_open(tmp_path)

    async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise cannot_open

    app = RequestContextMiddleware(failing_app, max_body_bytes=1000, access_log=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["code"] == "database_unavailable"
    shape = {"message", "type", "param"} if path.startswith("/v1/") else {"message", "details"}
    assert set(error) == {"code", *shape}

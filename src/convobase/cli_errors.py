"""Known failures of `convobase` commands, told in one line instead of a traceback.

A failure is "known" when it is about the machine rather than the code: the database or Redis
cannot be reached, the PostgreSQL role or database does not exist, the S3 bucket is missing or
refuses our credentials, a URL cannot be used, a path cannot be written. ``explain`` walks the
exception's chain (what raised it and what that wrapped) and names the first known cause with a
hint of the setting to check; anything else is a bug and keeps its traceback. `--debug` shows
the traceback of known failures too.

Nothing heavy is imported here: the classes are looked up in ``sys.modules``, since an exception
of a module that was never imported cannot have been raised.
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

OPERATIONS_DOC = "docs/operations.md"
DATABASE_HINT = "check CONVOBASE_DATABASE_URL"
# PostgreSQL error classes (SQLSTATE) that mean "this server, role or database cannot be used".
_PG_SETUP_STATES = {
    "3D000": f"create it as {OPERATIONS_DOC} shows",  # invalid_catalog_name
    "28000": f"create the role as {OPERATIONS_DOC} shows",  # invalid_authorization_specification
    "28P01": "check the password in CONVOBASE_DATABASE_URL",  # invalid_password
    "42501": f"grant the role its privileges as {OPERATIONS_DOC} shows",  # insufficient_privilege
    "42P01": "run `convobase db upgrade`",  # undefined_table: not migrated
    "53300": "the server has no free connection; lower CONVOBASE_DATABASE_POOL_SIZE",
    "57P03": "the server is starting or shutting down; try again",  # cannot_connect_now
}
_SQLITE_MESSAGES = {
    "unable to open database file": "check CONVOBASE_DATA_DIR or CONVOBASE_DATABASE_URL",
    "file is not a database": "check CONVOBASE_DATA_DIR or CONVOBASE_DATABASE_URL",
    "attempt to write a readonly database": "check the file's permissions",
    "disk i/o error": "check the disk holding CONVOBASE_DATA_DIR",
    "database or disk is full": "free some space",
    "no such table": "run `convobase db upgrade`",
}
# Where a failure came from, by the modules its traceback went through (first match wins).
_SERVICES = (
    ("asyncpg", "PostgreSQL", DATABASE_HINT),
    ("aiosqlite", "SQLite", "check CONVOBASE_DATA_DIR or CONVOBASE_DATABASE_URL"),
    ("convobase.db", "the database", DATABASE_HINT),
    ("sqlalchemy", "the database", DATABASE_HINT),
    ("redis", "Redis", "check CONVOBASE_REDIS_URL"),
    ("obstore", "S3", "check CONVOBASE_S3_ENDPOINT"),
    ("convobase.backends.storage", "file storage", "check the CONVOBASE_S3_* settings"),
)


@dataclass(frozen=True)
class Failure:
    message: str
    exit_code: int  # 2: configuration or arguments; 1: the machine said no
    label: str = "Error"


def _class(module: str, name: str) -> type[BaseException] | None:
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _class(module, name)
    return cls is not None and isinstance(exc, cls)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None


def _modules(tb: TracebackType | None) -> Iterator[str]:
    while tb is not None:
        yield str(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next


def _service(exc: BaseException) -> tuple[str, str]:
    """The service a failure came from and the setting to check, from the traceback's modules."""
    modules = [name for link in _chain(exc) for name in _modules(link.__traceback__)]
    for prefix, service, hint in _SERVICES:
        if any(name == prefix or name.startswith(prefix + ".") for name in modules):
            return service, hint
    return "", ""


def _one_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _os_error(exc: OSError, root: BaseException) -> Failure:
    service, hint = _service(root)
    where = f" to {service}" if service else ""
    if isinstance(exc, ConnectionRefusedError):
        detail = _one_line(exc.strerror or str(exc))
        return Failure(f"cannot connect{where}: {detail} (is it running? {hint})".strip(), 1)
    if _is(exc, "socket", "gaierror"):
        return Failure(f"cannot connect{where}: unknown host ({exc.strerror}; {hint})", 1)
    if isinstance(exc, TimeoutError):
        return Failure(f"cannot connect{where}: timed out ({hint})", 1)
    if isinstance(exc, ConnectionError):
        return Failure(f"cannot connect{where}: {_one_line(str(exc))} ({hint})", 1)
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = hint or "check the path's permissions"
        return Failure(f"permission denied: {exc.filename or _one_line(str(exc))} ({hint})", 1)
    if exc.filename is not None:
        reason = exc.strerror or "cannot be used"
        return Failure(f"{exc.filename}: {reason}" + (f" ({hint})" if hint else ""), 1)
    return Failure(_one_line(str(exc)) + (f" ({hint})" if hint else ""), 1)


def _explain_one(exc: BaseException, root: BaseException) -> Failure | None:
    """The one-line failure for ``exc`` (a link of ``root``'s chain), if it is a known one."""
    if _is(exc, "convobase.errors", "ConfigError"):
        return Failure(_one_line(str(exc)), 2, "Configuration error")
    if _is(exc, "convobase.backends.storage", "StorageError"):
        return Failure(f"file storage: {_one_line(str(exc))}", 1)
    if _is(exc, "convobase.errors", "ConvobaseError"):
        return Failure(_one_line(getattr(exc, "message", str(exc))), 1)
    if _is(exc, "sqlalchemy.exc", "ArgumentError") or _is(
        exc, "sqlalchemy.exc", "NoSuchModuleError"
    ):
        return Failure(
            f"CONVOBASE_DATABASE_URL cannot be used: {_one_line(str(exc))} (use "
            "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DATABASE)",
            2,
        )
    if isinstance(exc, ModuleNotFoundError) and _service(root)[0] == "the database":
        return Failure(
            f"CONVOBASE_DATABASE_URL names a driver that is not installed ({exc}): use "
            "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DATABASE",
            2,
        )
    if _is(exc, "asyncpg.exceptions", "PostgresError"):
        state = str(getattr(exc, "sqlstate", ""))
        if state in _PG_SETUP_STATES or state.startswith("08"):
            hint = _PG_SETUP_STATES.get(state, DATABASE_HINT)
            return Failure(f"PostgreSQL: {_one_line(str(exc))} ({hint})", 1)
        return None
    if _is(exc, "sqlite3", "DatabaseError"):
        message = str(exc).lower()
        for known, hint in _SQLITE_MESSAGES.items():
            if message.startswith(known):
                return Failure(f"SQLite: {_one_line(str(exc))} ({hint})", 1)
        return None
    if _is(exc, "redis.exceptions", "AuthenticationError"):
        return Failure(f"Redis: {_one_line(str(exc))} (check CONVOBASE_REDIS_URL)", 1)
    if _is(exc, "redis.exceptions", "ConnectionError") or _is(
        exc, "redis.exceptions", "TimeoutError"
    ):
        return Failure(
            f"cannot connect to Redis: {_one_line(str(exc))} (check CONVOBASE_REDIS_URL)", 1
        )
    if _is(exc, "alembic.util.exc", "CommandError"):
        return Failure(f"migrations: {_one_line(str(exc))}", 2)
    if isinstance(exc, OSError):
        return _os_error(exc, root)
    return None


def explain(exc: BaseException) -> Failure | None:
    """The known failure behind ``exc``, or None for a bug (which keeps its traceback)."""
    for link in _chain(exc):
        failure = _explain_one(link, exc)
        if failure is not None:
            return failure
    return None

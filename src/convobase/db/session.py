"""The request's database session: the one place that commits.

Services and repositories ``flush()``; this dependency commits once when the handler returns
without error, rolls back otherwise, then runs the after-commit callbacks (side effects such as
blob deletions or best-effort bookkeeping) that code registered with ``after_commit``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("convobase.db")

AfterCommit = Callable[[], Awaitable[None]]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CALLBACKS_KEY = "after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the request's transaction has committed (never if it rolls back)."""
    session.info.setdefault(_CALLBACKS_KEY, []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop(_CALLBACKS_KEY, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            # The request already succeeded; a failed side effect is logged, not surfaced.
            log.exception("after_commit_failed")


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with _transaction(request, write=request.method not in _SAFE_METHODS) as session:
        yield session


async def get_write_db(request: Request) -> AsyncIterator[AsyncSession]:
    """For the rare GET that writes (an OAuth callback signing someone in)."""
    async with _transaction(request, write=True) as session:
        yield session


@asynccontextmanager
async def _transaction(request: Request, write: bool) -> AsyncIterator[AsyncSession]:
    database = request.app.state.runtime.database
    session: AsyncSession = database.session(write=write)
    try:
        yield session
        await session.commit()
    except BaseException:
        session.info.pop(_CALLBACKS_KEY, None)
        try:
            await session.rollback()
        except Exception as rollback_error:
            # On a lost connection the rollback fails too; the original error says why (and
            # decides the answer, e.g. a 503 for a database outage), so it is the one raised.
            log.warning("rollback_failed", error_type=type(rollback_error).__name__)
        raise
    finally:
        await session.close()
    await run_after_commit(session)


# Ends before the response is sent (scope="function"), so a 2xx always means committed.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
WriteDbSession = Annotated[AsyncSession, Depends(get_write_db, scope="function")]

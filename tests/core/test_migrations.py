"""Migrations: empty -> head on both engines, matching the models, and back down."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from convobase.db.migrate import downgrade, include_object, upgrade
from convobase.models import Base
from tests.fixtures import servers


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff), await conn.run_sync(_tables)
    finally:
        await engine.dispose()


def _check(url: str) -> None:
    # upgrade()/downgrade() run their own event loop, so this test stays synchronous.
    upgrade(url)
    diff, tables = asyncio.run(_inspect(url))
    assert diff == [], "models and migrations disagree"
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    downgrade(url, "base")
    assert asyncio.run(_inspect(url))[1] <= {"alembic_version"}
    upgrade(url)  # and up again
    assert asyncio.run(_inspect(url))[0] == []


def test_sqlite_migrations(tmp_path: Path) -> None:
    _check(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


def test_postgres_migrations() -> None:
    with servers.pg_database() as url:
        _check(url)

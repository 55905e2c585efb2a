"""Migrations: empty -> head on both engines, matching the models, and back down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
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


async def _search_docs_before_0010(url: str) -> None:
    """A user, a conversation and a Markdown message's search document, as 0009 stored them."""
    user_id, conversation_id, message_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid),
        sa.column("email"),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    conversations = sa.table(
        "conversations",
        sa.column("id", sa.Uuid),
        sa.column("user_id", sa.Uuid),
        sa.column("settings", sa.JSON),
        sa.column("tags", sa.JSON),
        sa.column("last_activity_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    docs = sa.table(
        "search_docs",
        sa.column("ref_id", sa.Uuid),
        sa.column("kind"),
        sa.column("user_id", sa.Uuid),
        sa.column("owner"),
        sa.column("conversation_id", sa.Uuid),
        sa.column("message_id", sa.Uuid),
        sa.column("role"),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("body"),
    )
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                users.insert().values(
                    id=user_id, email="m@example.com", created_at=now, updated_at=now
                )
            )
            await conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    user_id=user_id,
                    settings={},
                    tags=[],
                    last_activity_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            doc = {"user_id": user_id, "owner": "u" + user_id.hex, "created_at": now}
            await conn.execute(
                docs.insert(),
                [
                    {**doc, "ref_id": message_id, "kind": "message", "message_id": message_id}
                    | {"conversation_id": conversation_id, "role": "user"}
                    | {"body": "Use **bold** [links](https://example.com)"},
                    {**doc, "ref_id": conversation_id, "kind": "title", "message_id": None}
                    | {"conversation_id": conversation_id, "role": None}
                    | {"body": "A *title* stays as written"},
                ],
            )
    finally:
        await engine.dispose()


async def _bodies(url: str) -> dict[str, str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT kind, body FROM search_docs"))
            bodies = {kind: body for kind, body in rows}
            if url.startswith("sqlite"):  # the FTS5 index followed the update
                found = await conn.execute(
                    sa.text("SELECT count(*) FROM search_fts WHERE search_fts MATCH 'links'")
                )
                bodies["fts"] = str(found.scalar())
            return bodies
    finally:
        await engine.dispose()


def _check_plain_text_documents(url: str) -> None:
    upgrade(url, "0009")
    asyncio.run(_search_docs_before_0010(url))
    upgrade(url)
    bodies = asyncio.run(_bodies(url))
    assert bodies["message"] == "Use bold links"
    assert bodies["title"] == "A *title* stays as written"
    assert bodies.get("fts", "1") == "1"


def test_sqlite_search_documents_become_plain_text(tmp_path: Path) -> None:
    _check_plain_text_documents(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")


def test_postgres_search_documents_become_plain_text() -> None:
    with servers.pg_database() as url:
        _check_plain_text_documents(url)


async def _terms(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(sa.text("SELECT term FROM search_terms"))).scalars())
    finally:
        await engine.dispose()


def _check_search_terms_filled(url: str) -> None:
    upgrade(url, "0010")
    asyncio.run(_search_docs_before_0010(url))
    upgrade(url)
    assert {"use", "bold", "links", "title", "stays", "written"} <= asyncio.run(_terms(url))


def test_sqlite_search_terms_hold_existing_words(tmp_path: Path) -> None:
    _check_search_terms_filled(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")


def test_postgres_search_terms_hold_existing_words() -> None:
    with servers.pg_database() as url:
        _check_search_terms_filled(url)


# Messages created in this order; a reply after the first to the same parent is a fork.
TREE = {"r1": None, "a": "r1", "b": "a", "c": "b", "b2": "a", "c2": "b2", "a2": "r1", "r2": None}
# Where the app would have put each (segment named by its first message, depth).
PLACED = {"r1": ("r1", 0), "a": ("r1", 1), "b": ("r1", 2), "c": ("r1", 3)}
PLACED |= {"b2": ("b2", 2), "c2": ("b2", 3), "a2": ("a2", 1), "r2": ("r2", 0)}
PLACED |= {"x": ("x", 0), "y": ("x", 1)}  # a second, linear conversation


async def _messages_before_0012(url: str) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """A user, a branched conversation (forks, a second root) and a linear one, as 0011 did."""
    from convobase.db.base import new_id

    user_id, now = uuid.uuid4(), datetime.now(UTC)
    branched, linear = uuid.uuid4(), uuid.uuid4()
    ids = {name: new_id() for name in PLACED}  # time-ordered, as the app's ids

    def stamp() -> tuple[sa.ColumnClause[Any], ...]:
        return (
            sa.column("created_at", sa.DateTime(timezone=True)),
            sa.column("updated_at", sa.DateTime(timezone=True)),
        )

    users = sa.table("users", sa.column("id", sa.Uuid), sa.column("email"), *stamp())
    conversations = sa.table(
        "conversations",
        sa.column("id", sa.Uuid),
        sa.column("user_id", sa.Uuid),
        sa.column("settings", sa.JSON),
        sa.column("tags", sa.JSON),
        sa.column("last_activity_at", sa.DateTime(timezone=True)),
        *stamp(),
    )
    messages = sa.table(
        "messages",
        sa.column("id", sa.Uuid),
        sa.column("conversation_id", sa.Uuid),
        sa.column("user_id", sa.Uuid),
        sa.column("parent_id", sa.Uuid),
        sa.column("role"),
        sa.column("parts", sa.JSON),
        sa.column("content"),
        sa.column("metadata", sa.JSON),
        sa.column("status"),
        sa.column("edit_count", sa.Integer),
        *stamp(),
    )
    parents = TREE | {"x": None, "y": "x"}
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                users.insert().values(
                    id=user_id, email="b@example.com", created_at=now, updated_at=now
                )
            )
            for conversation_id in (branched, linear):
                await conn.execute(
                    conversations.insert().values(
                        id=conversation_id,
                        user_id=user_id,
                        settings={},
                        tags=[],
                        last_activity_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
            await conn.execute(
                messages.insert(),
                [
                    {
                        "id": ids[name],
                        "conversation_id": linear if name in ("x", "y") else branched,
                        "user_id": user_id,
                        "parent_id": ids[parent] if parent else None,
                        "role": "user",
                        "parts": [{"type": "text", "text": name}],
                        "content": name,
                        "metadata": {},
                        "status": "complete",
                        "edit_count": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for name, parent in parents.items()
                ],
            )
    finally:
        await engine.dispose()
    return branched, ids


async def _placed_and_path(
    url: str, conversation_id: uuid.UUID, leaf: uuid.UUID
) -> tuple[dict[uuid.UUID, tuple[uuid.UUID, int]], list[uuid.UUID]]:
    from sqlalchemy.ext.asyncio import AsyncSession

    from convobase.messages import repository

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT id, segment_id, depth FROM messages"))
            placed = {uuid.UUID(str(i)): (uuid.UUID(str(s)), d) for i, s, d in rows}
        async with AsyncSession(engine) as db:
            path = [m.id for m in await repository.path(db, conversation_id, leaf)]
        return placed, path
    finally:
        await engine.dispose()


def _check_segment_backfill(url: str) -> None:
    upgrade(url, "0011")
    branched, ids = asyncio.run(_messages_before_0012(url))
    upgrade(url)
    placed, path = asyncio.run(_placed_and_path(url, branched, ids["c2"]))
    assert placed == {ids[name]: (ids[segment], depth) for name, (segment, depth) in PLACED.items()}
    assert path == [ids["r1"], ids["a"], ids["b2"], ids["c2"]]


def test_sqlite_message_segments_are_backfilled(tmp_path: Path) -> None:
    _check_segment_backfill(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")


def test_postgres_message_segments_are_backfilled() -> None:
    with servers.pg_database() as url:
        _check_segment_backfill(url)

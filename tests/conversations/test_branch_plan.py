"""A page of a branch reads O(page) rows (plus a few per fork on the path), never the path.

The statements are those ``messages.service.list_messages`` runs (captured as they execute) on
a conversation of ~4,000 messages whose current branch crosses two forks. SQLite is explained
as the app runs it (EXPLAIN QUERY PLAN: index searches only, the page on the segment index);
PostgreSQL executed (EXPLAIN ANALYZE), counting the message rows its scans actually read.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.base import new_id
from convobase.messages import service
from convobase.models import Conversation, Message, User

LIMIT = 50
# A message by its id, the replies of one message, or a range of depths of one segment (never
# the whole conversation).
KEYED = re.compile(r"\((conversation_id=\? AND )?(parent_)?id=\?\)|segment_id=\? AND depth")
SEGMENT_INDEX = "ix_messages_conversation_segment_depth"
# The tree: a run from the root, a fork off it at depth 600 and another off that at 1,500;
# the current branch follows both forks to depth 3,000. Each run goes on past its fork.
RUNS = [(None, 0, 1_000), (600, 601, 2_000), (1_500, 1_501, 3_000)]
OTHER_MESSAGES = 12_000


@pytest.fixture(params=["sqlite", "postgres"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


async def _seed(db: AsyncSession) -> tuple[User, uuid.UUID, dict[int, uuid.UUID]]:
    """The conversation, and the ids of its current branch by depth."""
    now = datetime.now(UTC)
    user_id, conversation_id = new_id(), new_id()
    await db.execute(
        insert(User),
        [{"id": user_id, "email": f"{user_id.hex}@example.com", "role": "user"}],
    )
    await db.execute(
        insert(Conversation),
        [{"id": conversation_id, "user_id": user_id, "settings": {}, "tags": []}],
    )
    branch: dict[int, uuid.UUID] = {}
    rows: list[dict[str, Any]] = []
    for fork_depth, first, last in RUNS:
        parent = None if fork_depth is None else branch[fork_depth]
        segment = new_id()
        for depth in range(first, last + 1):
            message_id = segment if depth == first else new_id()
            rows.append(
                {
                    "id": message_id,
                    "conversation_id": conversation_id,
                    "user_id": user_id,
                    "parent_id": parent,
                    "depth": depth,
                    "segment_id": segment,
                    "role": "user",
                    "parts": [{"type": "text", "text": str(depth)}],
                    "content": str(depth),
                    "meta": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            branch[depth] = parent = message_id
    # Another conversation's messages, so the table is larger than the one conversation (as
    # it always is): on a table holding nothing else PostgreSQL rightly prefers to scan it.
    other = new_id()
    await db.execute(
        insert(Conversation), [{"id": other, "user_id": user_id, "settings": {}, "tags": []}]
    )
    previous = None
    template, other_segment = rows[-1], other
    for depth in range(OTHER_MESSAGES):
        message_id = new_id()
        other_segment = other_segment if depth else message_id  # one linear run
        rows.append(
            {
                **template,
                "id": message_id,
                "conversation_id": other,
                "parent_id": previous,
                "depth": depth,
                "segment_id": other_segment,
            }
        )
        previous = message_id
    for start in range(0, len(rows), 1_000):
        await db.execute(insert(Message), rows[start : start + 1_000])
    await db.commit()
    conversation = await db.get(Conversation, conversation_id)
    assert conversation is not None
    conversation.current_leaf_id = branch[RUNS[-1][2]]
    await db.commit()
    user = await db.get(User, user_id)
    assert user is not None
    return user, conversation_id, branch


@contextmanager
def _captured(db: AsyncSession) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []
    engine = db.get_bind()

    def capture(*args: Any) -> None:
        statements.append((args[2], args[3]))  # statement, parameters

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _pg_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


# (order, depth of the cursor's message or None): first pages, and pages that cross a fork.
PAGES = [("asc", None), ("asc", 580), ("asc", 1_480), ("desc", None), ("desc", 1_530)]


@pytest.mark.parametrize(("order", "cursor_depth"), PAGES)
async def test_a_branch_page_reads_a_page(app: Any, order: str, cursor_depth: int | None) -> None:
    async with app.state.runtime.database.session() as db:
        user, conversation_id, branch = await _seed(db)
        if db.get_bind().dialect.name == "postgresql":
            await (await db.connection()).exec_driver_sql("ANALYZE messages")
        after = None if cursor_depth is None else branch[cursor_depth]
        with _captured(db) as statements:
            page = await service.list_messages(
                db,
                user,
                conversation_id,
                limit=LIMIT,
                after=after,
                descending=order == "desc",
                leaf="current",
            )
            await service.to_out(db, conversation_id, page.messages)  # and their siblings
        # The right page (its correctness in general: test_branch_pages.py).
        first = 0 if cursor_depth is None else cursor_depth + (1 if order == "asc" else -1)
        if order == "desc" and cursor_depth is None:
            first = RUNS[-1][2]
        step = 1 if order == "asc" else -1
        expected = [branch[first + step * n] for n in range(LIMIT)]
        assert [m.id for m in page.messages] == expected and page.has_more
        reads = [s for s in statements if "messages" in s[0] and s[0].lstrip().startswith("WITH")]
        reads += [
            s for s in statements if s[0].lstrip().startswith("SELECT") and "FROM messages" in s[0]
        ]
        assert reads
        connection = await db.connection()
        for sql, params in reads:
            if db.get_bind().dialect.name == "sqlite":
                plan = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)
                details = [row[3] for row in plan.all()]
                assert not [d for d in details if d.startswith("SCAN messages")], details
                # Every read of messages is a lookup by key or a range of one segment.
                searches = [d for d in details if d.startswith("SEARCH messages")]
                assert all(KEYED.search(d) for d in searches), details
                if "ORDER BY messages.depth" in sql:  # the page: one range per segment
                    assert any(SEGMENT_INDEX in d for d in details), details
                continue
            explained = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params
            )
            document = explained.scalar_one()
            plan = (json.loads(document) if isinstance(document, str) else document)[0]
            scans = [n for n in _pg_nodes(plan["Plan"]) if n.get("Relation Name") == "messages"]
            print(
                "READ",
                sum(
                    (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
                    for n in scans
                ),
                [(n["Node Type"], n.get("Index Name")) for n in scans],
            )
            read = sum(
                (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
                for n in scans
            )
            # A page and one more, or a few lookups per fork on the path: never the path
            # (thousands of rows).
            assert read <= 2 * (LIMIT + 1) + 4 * len(RUNS), (read, sql, json.dumps(plan))

"""The conversation list's query plan: a page walks indexes, never every conversation of the user.

The statement is the one ``conversations.repository.page`` runs (captured as it executes), on a
user who owns thousands of conversations and has a few shared with them. SQLite is explained as
the app runs it (no ANALYZE, as the app never runs it); PostgreSQL after ANALYZE, executed
(EXPLAIN ANALYZE), counting the conversation rows its scans actually read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.conversations import repository
from convobase.conversations.repository import ConversationFilter
from convobase.db.base import new_id
from convobase.models import Conversation, Share, User

OWNED = 2_000  # the user's own conversations: far more than a page
OTHERS = 2_000  # someone else's, a few of them shared with the user
SHARED = 5
LIMIT = 21  # a page of 20 and one more, as the router asks
LIST_INDEX = "ix_conversations_user_list"
SHARES_INDEX = "ix_shares_recipient_conversation"

CASES = {
    "default": ConversationFilter(),
    "pinned": ConversationFilter(pinned=True),
    "unpinned": ConversationFilter(pinned=False),
    "archived": ConversationFilter(archived=True),
    "archived or not": ConversationFilter(archived=None),
}


@pytest.fixture(params=["sqlite", "postgres"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def _user(user_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": f"{user_id.hex}@example.com",
        "role": "user",
        "disabled": False,
        "created_at": at,
        "updated_at": at,
    }


def _conversation(owner: uuid.UUID, at: datetime, n: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "user_id": owner,
        "title": f"c{n}",
        "settings": {},
        "tags": [],
        "pinned": n % 37 == 0,
        "archived": n % 11 == 0,
        "message_count": 0,
        "last_activity_at": at,
        "created_at": at,
        "updated_at": at,
    }


async def _seed(db: AsyncSession) -> uuid.UUID:
    """A user owning OWNED conversations, interleaved in time with another's, SHARED shared."""
    me, other = new_id(), new_id()
    start = datetime.now(UTC) - timedelta(days=30)
    await db.execute(insert(User), [_user(me, start), _user(other, start)])
    rows = [
        _conversation(me if n % 2 else other, start + timedelta(seconds=n), n)
        for n in range(OWNED + OTHERS)
    ]
    await db.execute(insert(Conversation), rows)
    theirs = [r for r in rows if r["user_id"] == other and not r["archived"]]
    shares = [
        {
            "id": new_id(),
            "conversation_id": row["id"],
            "user_id": other,
            "kind": "user",
            "mode": "live",
            "permission": "read",
            "recipient_id": me,
            "created_at": start,
        }
        for row in theirs[-SHARED:]  # among the newest, so they reach the first page
    ]
    await db.execute(insert(Share), shares)
    await db.commit()
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("ANALYZE"))
    return me


@contextmanager
def _captured(db: AsyncSession) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) that reach the database driver."""
    statements: list[tuple[str, Any]] = []
    engine = db.get_bind()

    def capture(*args: Any) -> None:
        statements.append((args[2], args[3]))  # statement, parameters

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)


async def _page_sql(
    db: AsyncSession, me: uuid.UUID, where: ConversationFilter, *, second: bool
) -> tuple[str, Any]:
    now = datetime.now(UTC)
    after = None
    if second:
        first = await repository.page(db, me, limit=LIMIT, after=None, where=where, now=now)
        after = (first[-2].conversation.last_activity_at, first[-2].conversation.id)
    with _captured(db) as statements:
        rows = await repository.page(db, me, limit=LIMIT, after=after, where=where, now=now)
    assert len(rows) == LIMIT
    [query] = [s for s in statements if s[0].lstrip().upper().startswith("SELECT")]
    return query


def _sqlite_subtree(plan: list[tuple[int, int, str]], root: int) -> list[str]:
    children: dict[int, list[tuple[int, str]]] = {}
    for node, parent, detail in plan:
        children.setdefault(parent, []).append((node, detail))
    found, todo = [], [root]
    while todo:
        for node, detail in children.get(todo.pop(), []):
            found.append(detail)
            todo.append(node)
    return found


def _assert_sqlite_plan(plan: list[tuple[int, int, str]]) -> None:
    details = [detail for _, _, detail in plan]
    for _, parent, detail in plan:
        if detail.startswith("USE TEMP B-TREE"):
            # The one sort allowed: the conversations shared with the user, found from their
            # shares by key; never the user's own conversations (a sort over all of them).
            sorted_part = _sqlite_subtree(plan, parent)
            assert any(SHARES_INDEX in d for d in sorted_part), details
            reads = [d for d in sorted_part if d.startswith(("SEARCH conv", "SCAN conv"))]
            assert all(d.endswith("(id=?)") for d in reads), details
    assert not [d for d in details if d.startswith("SCAN conversations")], details
    walks = [d for d in details if d.startswith("SEARCH conversations USING INDEX " + LIST_INDEX)]
    assert walks, details
    for walk in walks:
        assert "(user_id=? AND archived=? AND pinned=?" in walk, details


def _pg_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


def _assert_pg_plan(plan: dict[str, Any]) -> None:
    nodes = list(_pg_nodes(plan["Plan"]))
    scans = [n for n in nodes if n.get("Relation Name") == "conversations"]
    read = sum(
        (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"] for n in scans
    )
    kinds = [(n["Node Type"], n.get("Index Name")) for n in scans]
    # Up to four walks of a page (one per archived/pinned pair) and the shared ones: a few
    # pages' worth of rows, where reading the user's own conversations would be thousands.
    if read > 4 * LIMIT + 2 * SHARED:
        print(json.dumps(plan, indent=1))
    assert read <= 4 * LIMIT + 2 * SHARED, (read, kinds)
    assert not [k for k in kinds if k[0] == "Seq Scan"], kinds


@pytest.mark.parametrize("second", [False, True], ids=["first page", "next page"])
@pytest.mark.parametrize("case", list(CASES))
async def test_a_page_walks_indexes(app: Any, case: str, second: bool) -> None:
    async with app.state.runtime.database.session() as db:
        me = await _seed(db)
        sql, params = await _page_sql(db, me, CASES[case], second=second)
        connection = await db.connection()
        if db.get_bind().dialect.name == "sqlite":
            plan = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)
            _assert_sqlite_plan([(r[0], r[1], r[3]) for r in plan.all()])
        else:
            explained = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params
            )
            document = explained.scalar_one()
            _assert_pg_plan((json.loads(document) if isinstance(document, str) else document)[0])

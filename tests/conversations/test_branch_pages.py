"""Branch pages on random trees: whatever appends, forks, branching edits, branch switches and
deletions made the tree, every leaf's path read a page at a time (both orders, several page
sizes, following the cursor) is the path walked naively in Python, and every stored message's
depth and segment hold the invariants the page queries rely on."""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from convobase.messages import service
from convobase.models import Message, User
from tests.helpers import Account, append, new_conversation, signup

PAGE_SIZES = (1, 7, 50)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("continue"), st.just(0)),
        st.tuples(st.just("reply"), st.integers(0, 10_000)),  # a fork when it has replies
        st.tuples(st.just("edit"), st.integers(0, 10_000)),  # a sibling of a message
        st.tuples(st.just("root"), st.just(0)),
        st.tuples(st.just("delete"), st.integers(0, 10_000)),
        st.tuples(st.just("switch"), st.integers(0, 10_000)),
    ),
    min_size=1,
    max_size=30,
)


def _programs(count: int) -> list[list[tuple[str, int]]]:
    found: list[list[tuple[str, int]]] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(program=operations)
    def collect(program: list[tuple[str, int]]) -> None:
        found.append(program)

    collect()
    return found


# Always run, whatever hypothesis draws: deleting the first message of a segment that goes on
# (a root, then a fork), and deleting from the middle of a run below a fork.
GIVEN = [
    [("continue", 0), ("continue", 0), ("continue", 0), ("delete", 0)],
    [("continue", 0), ("continue", 0), ("reply", 0), ("continue", 0), ("delete", 2)],
    [("continue", 0), ("edit", 1), ("continue", 0), ("continue", 0), ("delete", 3)],
]


@dataclass
class Tree:
    """What the conversation should be, kept by hand: parents and the current leaf."""

    parent: dict[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)
    current: uuid.UUID | None = None

    def children(self, message_id: uuid.UUID | None) -> list[uuid.UUID]:
        return sorted(m for m, p in self.parent.items() if p == message_id)

    def path(self, leaf: uuid.UUID) -> list[uuid.UUID]:
        walk: list[uuid.UUID] = []
        at: uuid.UUID | None = leaf
        while at is not None:
            walk.append(at)
            at = self.parent[at]
        return walk[::-1]

    def pick(self, n: int) -> uuid.UUID:
        return sorted(self.parent)[n % len(self.parent)]


async def _apply(
    client: httpx.AsyncClient, user: Account, cid: str, tree: Tree, op: str, n: int
) -> None:
    if op in ("reply", "edit", "delete", "switch") and not tree.parent:
        op = "continue"
    if op == "delete":
        gone = tree.pick(n)
        response = await client.delete(
            f"/api/v1/conversations/{cid}/messages/{gone}", headers=user.headers
        )
        assert response.status_code == 204, response.text
        up = tree.parent.pop(gone)
        for child, parent in list(tree.parent.items()):
            if parent == gone:
                tree.parent[child] = up
        if tree.current == gone:
            tree.current = up or (max(tree.parent) if tree.parent else None)
        return
    if op == "switch":
        chosen = tree.pick(n)
        response = await client.patch(
            f"/api/v1/conversations/{cid}",
            headers=user.headers,
            json={"current_leaf_id": str(chosen)},
        )
        assert response.status_code == 200, response.text
        while kids := tree.children(chosen):  # the newest reply, down to a leaf
            chosen = kids[-1]
        tree.current = chosen
        assert response.json()["current_leaf_id"] == str(chosen)
        return
    fields: dict[str, Any] = {}
    if op == "reply":
        fields["parent_id"] = str(tree.pick(n))
    elif op == "edit":
        sibling_parent = tree.parent[tree.pick(n)]
        fields["parent_id"] = None if sibling_parent is None else str(sibling_parent)
    elif op == "root":
        fields["parent_id"] = None
    written = await append(client, user, cid, f"{op} {n}", **fields)
    new = uuid.UUID(written["id"])
    if "parent_id" not in fields:  # continues the current leaf
        tree.parent[new] = tree.current
    else:
        tree.parent[new] = fields["parent_id"] and uuid.UUID(fields["parent_id"])
    tree.current = new


def _check_segments(
    rows: list[tuple[uuid.UUID, uuid.UUID | None, int, uuid.UUID]], tree: Tree
) -> None:
    """Depth is the distance from the root; a segment is a chain named by its first message."""
    assert {r[0]: r[1] for r in rows} == tree.parent
    by_segment: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID | None, int, uuid.UUID]]] = (
        defaultdict(list)
    )
    for row in rows:
        assert row[2] == len(tree.path(row[0])) - 1, row
        by_segment[row[3]].append(row)
    for segment, members in by_segment.items():
        members.sort(key=lambda r: r[2])
        assert members[0][0] == segment, members
        for above, below in itertools.pairwise(members):
            assert below[1] == above[0] and below[2] == above[2] + 1, members


async def _pages(
    app: Any, user_id: uuid.UUID, cid: uuid.UUID, leaf: uuid.UUID | str, limit: int, desc: bool
) -> list[uuid.UUID]:
    """The whole branch, a page at a time, following the cursor as the router does."""
    read: list[uuid.UUID] = []
    after = None
    async with app.state.runtime.database.session() as db:
        user = await db.get(User, user_id)
        assert user is not None
        while True:
            page = await service.list_messages(
                db, user, cid, limit=limit, after=after, descending=desc, leaf=leaf
            )
            assert len(page.messages) <= limit
            read += [m.id for m in page.messages]
            if not page.has_more:
                return read
            assert page.messages
            after = page.messages[-1].id


async def test_branch_pages_match_the_naive_path(app: Any, client: httpx.AsyncClient) -> None:
    user = await signup(client)
    user_id = uuid.UUID(user.user["id"])
    for program in GIVEN + _programs(20):
        conversation = await new_conversation(client, user)
        cid = uuid.UUID(conversation["id"])
        tree = Tree()
        for op, n in program:
            await _apply(client, user, conversation["id"], tree, op, n)
        async with app.state.runtime.database.session() as db:
            stmt = select(Message.id, Message.parent_id, Message.depth, Message.segment_id)
            rows = [tuple(r) for r in await db.execute(stmt.where(Message.conversation_id == cid))]
        _check_segments(
            rows,
            tree,
        )
        leaves = [m for m in tree.parent if not tree.children(m)]
        targets: list[tuple[uuid.UUID | str, list[uuid.UUID]]] = [
            (leaf, tree.path(leaf)) for leaf in leaves
        ]
        # A leaf_id may be any message: the path ends there.
        targets += [(m, tree.path(m)) for m in list(tree.parent)[:3]]
        if tree.current is not None:
            targets.append(("current", tree.path(tree.current)))
        for leaf, expected in targets:
            for limit in PAGE_SIZES:
                assert await _pages(app, user_id, cid, leaf, limit, False) == expected, program
                assert await _pages(app, user_id, cid, leaf, limit, True) == expected[::-1], program

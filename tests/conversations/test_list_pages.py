"""The conversation list over owned and shared conversations: every filter a chat UI uses, paged.

Owned and shared conversations interleave in time; revoked, expired, link-only and unshared
ones of the other user must never show; pinned and archived are the owner's flags. Every
filter is walked page by page at several page sizes and must give the same rows, in order, as
one full page does, and as the expectation written out below.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, update

from convobase.models import Share
from tests.helpers import Account, append, new_conversation, signup
from tests.sharing.test_user_shares import share_with

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture(params=["sqlite", "postgres"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


async def _walk(
    client: httpx.AsyncClient, me: Account, query: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/conversations", headers=me.headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= limit
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        assert len(page["data"]) == limit


async def _set_share(app: Any, share_id: str, **values: Any) -> None:
    async with app.state.runtime.database.session() as db:
        await db.execute(update(Share).where(Share.id == uuid.UUID(share_id)).values(**values))
        await db.commit()


async def test_owned_and_shared_pages_under_every_filter(
    client: httpx.AsyncClient, app: Any
) -> None:
    me = await signup(client)
    alice = await signup(client)
    created: dict[str, dict[str, Any]] = {}

    async def mine(title: str, **flags: bool) -> None:
        created[title] = await new_conversation(client, me, title=title, **flags)

    async def hers(title: str, share: str | None = None, **flags: bool) -> dict[str, Any] | None:
        created[title] = await new_conversation(client, alice, title=title, **flags)
        if share == "link":
            url = f"/api/v1/conversations/{created[title]['id']}/shares"
            response = await client.post(url, headers=alice.headers, json={"kind": "link"})
            assert response.status_code == 201, response.text
            return None
        if share is not None:
            return await share_with(client, alice, created[title]["id"], me, share)
        return None

    # Oldest first; each creation is newer activity than the one before.
    await mine("m0")
    await hers("a0", "read")
    await mine("m1", pinned=True)
    await hers("a1", "write", pinned=True)
    await mine("m2", archived=True)
    revoked = await hers("a2", "read")
    await hers("a3", "read", archived=True)
    await mine("m3")
    await hers("a4")  # not shared
    await hers("a5", "link")  # a link share is no user share
    await mine("m4", pinned=True, archived=True)
    expired = await hers("a6", "read")
    await hers("a7", "read", pinned=True, archived=True)
    assert revoked is not None and expired is not None
    response = await client.delete(f"/api/v1/shares/{revoked['id']}", headers=alice.headers)
    assert response.status_code == 204
    await _set_share(app, expired["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    # Activity moves conversations up: mine by me, a shared one by its owner.
    await append(client, me, created["m0"]["id"], "bump")
    await append(client, alice, created["a0"]["id"], "bump")

    expected = {  # newest activity first
        "default": ({}, "a0 m0 m3 a1 m1"),
        "archived": ({"archived": "true"}, "a7 m4 a3 m2"),
        "archived or not": ({"archived": "any"}, "a0 m0 a7 m4 m3 a3 m2 a1 m1"),
        "pinned": ({"pinned": "true"}, "a1 m1"),
        "pinned, archived or not": ({"pinned": "true", "archived": "any"}, "a7 m4 a1 m1"),
        "unpinned": ({"pinned": "false"}, "a0 m0 m3"),
        "archived, unpinned": ({"archived": "true", "pinned": "false"}, "a3 m2"),
    }
    permission = {"a0": "read", "a1": "write", "a3": "read", "a7": "read"}
    for name, (query, order) in expected.items():
        titles = order.split()
        for limit in (1, 2, 3, 50):
            listed = await _walk(client, me, query, limit)
            assert [c["title"] for c in listed] == titles, (name, limit)
            for c in listed:
                assert c["id"] == created[c["title"]]["id"]
                assert c["permission"] == permission.get(c["title"], "owner"), c
                assert c["shared"] is (c["title"] in permission), c
        total = await client.get(
            "/api/v1/conversations",
            headers=me.headers,
            params={**query, "include_total": "true"},
        )
        assert total.json()["total"] == len(titles), name

    # The owner's list is hers alone, shares changing nothing.
    listed = await _walk(client, alice, {"archived": "any"}, 4)
    assert [c["title"] for c in listed] == ["a0", "a7", "a6", "a5", "a4", "a3", "a2", "a1"]
    assert {c["permission"] for c in listed} == {"owner"}


async def test_a_cursor_keeps_its_place_when_shares_change(client: httpx.AsyncClient) -> None:
    """Keyset cursors: a share revoked or added between pages neither repeats nor skips rows."""
    me = await signup(client)
    bob = await signup(client)
    order: list[str] = []
    shares: dict[str, dict[str, Any]] = {}
    for i in range(4):
        order.append((await new_conversation(client, me, title=f"m{i}"))["title"])
        theirs = await new_conversation(client, bob, title=f"b{i}")
        shares[theirs["title"]] = await share_with(client, bob, theirs["id"], me)
        order.append(theirs["title"])
    newest_first = list(reversed(order))  # b3 m3 b2 m2 b1 m1 b0 m0
    first = (
        await client.get("/api/v1/conversations", headers=me.headers, params={"limit": 3})
    ).json()
    assert [c["title"] for c in first["data"]] == newest_first[:3]
    # b3 (already seen) and b1 (not yet) are revoked; a new conversation is newer than them all.
    for title in ("b3", "b1"):
        response = await client.delete(f"/api/v1/shares/{shares[title]['id']}", headers=bob.headers)
        assert response.status_code == 204
    await new_conversation(client, me, title="new")
    rest = (
        await client.get(
            "/api/v1/conversations",
            headers=me.headers,
            params={"limit": 10, "cursor": first["next_cursor"]},
        )
    ).json()
    assert [c["title"] for c in rest["data"]] == ["m2", "m1", "b0", "m0"]
    assert rest["next_cursor"] is None


async def test_a_page_and_its_permissions_are_one_statement(
    client: httpx.AsyncClient, app: Any
) -> None:
    """The permission of each listed conversation comes with the page, in the same statement
    (one round trip), not from a second query on the shares of the page's shared rows."""
    me = await signup(client)
    alice = await signup(client)
    await new_conversation(client, me, title="mine")
    for title, permission in (("read", "read"), ("write", "write")):
        theirs = await new_conversation(client, alice, title=title)
        await share_with(client, alice, theirs["id"], me, permission)
    statements: list[str] = []

    def capture(*args: Any) -> None:
        statements.append(args[2])  # the statement as sent to the driver

    engine = app.state.runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        response = await client.get("/api/v1/conversations", headers=me.headers)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert response.status_code == 200, response.text
    listed = [(c["title"], c["permission"], c["shared"]) for c in response.json()["data"]]
    assert listed == [("write", "write", True), ("read", "read", True), ("mine", "owner", False)]
    on_the_list = [s for s in statements if "conversations" in s or "shares" in s]
    assert len(on_the_list) == 1, on_the_list

"""Shares with named users: read vs write, the recipient's list, owner-only actions, revoking."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from convobase.models import Message
from tests.helpers import Account, append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


async def share_with(
    client: httpx.AsyncClient,
    owner: Account,
    conversation_id: str,
    recipient: Account,
    permission: str = "read",
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/shares",
        headers=owner.headers,
        json={"kind": "user", "user_email": recipient.email, "permission": permission},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_read_share(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    reader = await signup(client)
    conversation = await new_conversation(client, owner, title="shared one")
    await append(client, owner, conversation["id"], "hello reader")
    await new_conversation(client, owner, title="not shared")
    created = await share_with(client, owner, conversation["id"], reader)
    assert created["token"] is None and created["url"] is None
    assert created["recipient_email"] == reader.email and created["permission"] == "read"

    c = f"/api/v1/conversations/{conversation['id']}"
    listed = (await client.get("/api/v1/conversations", headers=reader.headers)).json()
    assert [(x["title"], x["shared"], x["permission"]) for x in listed["data"]] == [
        ("shared one", True, "read")
    ]
    mine = (await client.get("/api/v1/conversations", headers=owner.headers)).json()["data"]
    assert {(x["shared"], x["permission"]) for x in mine} == {(False, "owner")}
    detail = await client.get(c, headers=reader.headers)
    assert detail.status_code == 200 and detail.json()["shared"] is True
    messages = (await client.get(c + "/messages", headers=reader.headers)).json()["data"]
    assert [m["content"] for m in messages] == ["hello reader"]
    one = await client.get(f"{c}/messages/{messages[0]['id']}", headers=reader.headers)
    assert one.status_code == 200
    path = await client.get(c + "/messages?leaf_id=current", headers=reader.headers)
    assert [m["content"] for m in path.json()["data"]] == ["hello reader"]

    write = await client.post(
        c + "/messages", headers=reader.headers, json={"role": "user", "content": "x"}
    )
    assert_error(write, 403, "read_only_share")
    after = (await client.get(c + "/messages", headers=owner.headers)).json()["data"]
    assert len(after) == 1


async def test_write_share_appends_as_the_owner_row_by_the_author(
    client: httpx.AsyncClient, app: Any
) -> None:
    owner = await signup(client)
    writer = await signup(client)
    conversation = await new_conversation(client, owner)
    await append(client, owner, conversation["id"], "first")
    await share_with(client, owner, conversation["id"], writer, "write")
    listed = (await client.get("/api/v1/conversations", headers=writer.headers)).json()["data"]
    assert listed[0]["permission"] == "write"
    written = await append(client, writer, conversation["id"], "from the writer")
    assert written["author_id"] == writer.user["id"]
    async with app.state.runtime.database.session() as db:
        row = (
            await db.execute(select(Message).where(Message.id == uuid.UUID(written["id"])))
        ).scalar_one()
        assert str(row.user_id) == owner.user["id"] and str(row.author_id) == writer.user["id"]
    own = await append(client, owner, conversation["id"], "owner again")
    assert own["author_id"] is None
    path = await client.get(
        f"/api/v1/conversations/{conversation['id']}/messages?leaf_id=current",
        headers=owner.headers,
    )
    assert [m["content"] for m in path.json()["data"]] == [
        "first",
        "from the writer",
        "owner again",
    ]
    detail = await client.get(f"/api/v1/conversations/{conversation['id']}", headers=owner.headers)
    assert detail.json()["message_count"] == 3
    # The owner finds the recipient's message in their search.
    found = await client.get("/api/v1/search?q=writer", headers=owner.headers)
    assert len(found.json()["data"]) == 1


async def test_recipient_cannot_act_as_owner(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    writer = await signup(client)
    conversation = await new_conversation(client, owner, title="keep")
    message = await append(client, owner, conversation["id"], "orig")
    await share_with(client, owner, conversation["id"], writer, "write")
    c = f"/api/v1/conversations/{conversation['id']}"
    m = f"{c}/messages/{message['id']}"
    attempts = [
        ("PATCH", c, {"title": "mine"}),
        ("DELETE", c, None),
        ("PATCH", m, {"content": "changed"}),
        ("DELETE", m, None),
        ("POST", m + "/feedback", {"rating": "down"}),
        ("GET", c + "/shares", None),
        ("POST", c + "/shares", {"kind": "link"}),
        ("GET", c + "/tool-runs", None),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, headers=writer.headers, json=body)
        assert_error(response, 404, "not_found")
    detail = (await client.get(c, headers=owner.headers)).json()
    assert detail["title"] == "keep"
    assert (await client.get(m, headers=owner.headers)).json()["content"] == "orig"
    shares = (await client.get(c + "/shares", headers=owner.headers)).json()["data"]
    assert len(shares) == 1
    # Nor can they revoke the share they hold.
    response = await client.delete(f"/api/v1/shares/{shares[0]['id']}", headers=writer.headers)
    assert_error(response, 404, "not_found")


async def test_revocation_removes_access_at_once(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    reader = await signup(client)
    conversation = await new_conversation(client, owner)
    created = await share_with(client, owner, conversation["id"], reader, "write")
    c = f"/api/v1/conversations/{conversation['id']}"
    assert (await client.get(c, headers=reader.headers)).status_code == 200
    revoked = await client.delete(f"/api/v1/shares/{created['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert_error(await client.get(c, headers=reader.headers), 404, "not_found")
    assert_error(await client.get(c + "/messages", headers=reader.headers), 404, "not_found")
    response = await client.post(
        c + "/messages", headers=reader.headers, json={"role": "user", "content": "x"}
    )
    assert_error(response, 404, "not_found")
    listed = (await client.get("/api/v1/conversations", headers=reader.headers)).json()
    assert listed["data"] == []
    # Shared again afterwards: access is back.
    await share_with(client, owner, conversation["id"], reader)
    assert (await client.get(c, headers=reader.headers)).json()["permission"] == "read"


async def test_list_pages_over_owned_and_shared(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    me = await signup(client)
    titles = []
    for i in range(3):
        mine = await new_conversation(client, me, title=f"mine {i}")
        theirs = await new_conversation(client, owner, title=f"theirs {i}")
        await share_with(client, owner, theirs["id"], me)
        titles += [mine["title"], theirs["title"]]
    await new_conversation(client, owner, title="private")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "include_total": "true"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/conversations", headers=me.headers, params=params)).json()
        assert page["total"] == 6
        seen += [c["title"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(titles))


async def test_bad_requests_store_nothing(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    other = await signup(client)
    conversation = await new_conversation(client, owner)
    url = f"/api/v1/conversations/{conversation['id']}/shares"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"kind": "user", "user_email": owner.email}, 422, "self_share"),
        ({"kind": "user", "user_email": owner.email.upper()}, 422, "self_share"),
        ({"kind": "user", "user_email": "nobody@example.com"}, 404, "recipient_not_found"),
        ({"kind": "user"}, 422, "validation_error"),
        ({"kind": "link", "user_email": other.email}, 422, "validation_error"),
        ({"kind": "link", "permission": "write"}, 422, "validation_error"),
        ({"kind": "user", "user_email": other.email, "mode": "snapshot"}, 422, "validation_error"),
        ({"kind": "group"}, 422, "validation_error"),
        ({"kind": "link", "mode": "frozen"}, 422, "validation_error"),
        ({"kind": "user", "user_email": other.email, "permission": "admin"}, 422, None),
        ({"kind": "link", "expires_at": "2000-01-01T00:00:00Z"}, 422, None),
        ({"kind": "link", "expires_at": "2999-01-01T00:00:00"}, 422, None),  # no time zone
        ({"kind": "link", "extra": 1}, 422, None),
        ({"kind": "user", "user_email": "not-an-email"}, 422, None),
    ]
    for body, status, code in cases:
        assert_error(await client.post(url, headers=owner.headers, json=body), status, code)
    assert (await client.get(url, headers=owner.headers)).json()["data"] == []
    # A foreign conversation id is a 404 and nothing is stored.
    foreign = await client.post(
        url, headers=other.headers, json={"kind": "user", "user_email": other.email}
    )
    assert_error(foreign, 404, "not_found")
    missing = f"/api/v1/conversations/{uuid.uuid4()}/shares"
    assert_error(await client.post(missing, headers=owner.headers, json={"kind": "link"}), 404)
    assert_error(await client.delete(f"/api/v1/shares/{uuid.uuid4()}", headers=owner.headers), 404)
    assert (await client.get(url, headers=owner.headers)).json()["data"] == []
    client.cookies.clear()
    assert_error(await client.post(url, json={"kind": "link"}), 401)


async def test_duplicate_user_share_and_limit(client: httpx.AsyncClient, app: Any) -> None:
    app.state.runtime.settings.share_max_per_conversation = 2
    owner = await signup(client)
    reader = await signup(client)
    conversation = await new_conversation(client, owner)
    url = f"/api/v1/conversations/{conversation['id']}/shares"
    await share_with(client, owner, conversation["id"], reader)
    again = await client.post(
        url, headers=owner.headers, json={"kind": "user", "user_email": reader.email}
    )
    assert_error(again, 409, "already_shared")
    link = await client.post(url, headers=owner.headers, json={"kind": "link"})
    assert link.status_code == 201
    over = await client.post(url, headers=owner.headers, json={"kind": "link"})
    assert_error(over, 409, "too_many_shares")
    # A revoked share no longer counts.
    await client.delete(f"/api/v1/shares/{link.json()['id']}", headers=owner.headers)
    assert (await client.post(url, headers=owner.headers, json={"kind": "link"})).status_code == 201


async def test_expired_user_share_gives_no_access(client: httpx.AsyncClient, app: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from convobase.models import Share

    owner = await signup(client)
    reader = await signup(client)
    conversation = await new_conversation(client, owner)
    created = await share_with(client, owner, conversation["id"], reader)
    async with app.state.runtime.database.session() as db:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await db.execute(
            update(Share).where(Share.id == uuid.UUID(created["id"])).values(expires_at=past)
        )
        await db.commit()
    c = f"/api/v1/conversations/{conversation['id']}"
    assert_error(await client.get(c, headers=reader.headers), 404, "not_found")
    assert (await client.get("/api/v1/conversations", headers=reader.headers)).json()["data"] == []


async def test_shares_list_pages(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    conversation = await new_conversation(client, owner)
    url = f"/api/v1/conversations/{conversation['id']}/shares"
    ids = []
    for _ in range(3):
        ids.append(
            (await client.post(url, headers=owner.headers, json={"kind": "link"})).json()["id"]
        )
    first = (await client.get(url, headers=owner.headers, params={"limit": 2})).json()
    second = (
        await client.get(
            url, headers=owner.headers, params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [s["id"] for s in first["data"] + second["data"]] == list(reversed(ids))
    assert second["next_cursor"] is None
    assert_error(await client.get(url, headers=owner.headers, params={"cursor": "bad"}), 400)

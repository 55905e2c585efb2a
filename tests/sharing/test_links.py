"""Link shares: snapshot vs live, expiry, revocation, access counts, the public JSON and page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import Account, append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


async def share(
    client: httpx.AsyncClient, account: Account, conversation_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/shares",
        headers=account.headers,
        json={"kind": "link", **body},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_link_snapshot_keeps_the_path_live_follows_it(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    conversation = await new_conversation(client, owner, title="Trip plan")
    await append(client, owner, conversation["id"], "Where should we go?")
    await append(
        client, owner, conversation["id"], "Lisbon.", role="assistant", metadata={"model": "m-1"}
    )
    snapshot = await share(client, owner, conversation["id"], mode="snapshot")
    live = await share(client, owner, conversation["id"], mode="live")
    for created in (snapshot, live):
        token = created["token"]
        assert token.startswith("cbsh_") and len(token) >= 5 + 43
        assert created["token_prefix"] == token[:12]
        assert created["url"] == f"http://testserver/s/{token}"
        assert created["access_count"] == 0 and created["revoked"] is False
    assert snapshot["token"] != live["token"]

    await append(client, owner, conversation["id"], "And after that?")

    snap = (await client.get(f"/api/v1/shared/{snapshot['token']}")).json()
    assert snap["mode"] == "snapshot" and snap["title"] == "Trip plan"
    assert [m["content"] for m in snap["messages"]] == ["Where should we go?", "Lisbon."]
    assert snap["messages"][1]["model"] == "m-1" and snap["messages"][1]["role"] == "assistant"
    assert snap["truncated"] is False

    view = (await client.get(f"/api/v1/shared/{live['token']}")).json()
    assert view["mode"] == "live"
    assert [m["content"] for m in view["messages"]] == [
        "Where should we go?",
        "Lisbon.",
        "And after that?",
    ]


async def test_public_read_exposes_no_owner_or_ids(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "owner.private@example.com")
    conversation = await new_conversation(client, owner, title="t")
    message = await append(client, owner, conversation["id"], "hi")
    other = await new_conversation(client, owner, title="the other one")
    created = await share(client, owner, conversation["id"])
    client.cookies.clear()  # anyone: no session at all
    for path in (f"/api/v1/shared/{created['token']}", f"/s/{created['token']}"):
        response = await client.get(path)
        assert response.status_code == 200
        for secret in (
            owner.email,
            owner.user["id"],
            conversation["id"],
            message["id"],
            other["id"],
            "the other one",
            created["id"],
        ):
            assert secret not in response.text
    body = (await client.get(f"/api/v1/shared/{created['token']}")).json()
    assert set(body) == {"title", "mode", "messages", "truncated", "as_of", "expires_at"}
    assert set(body["messages"][0]) == {"role", "parts", "content", "model", "created_at"}


async def test_reads_are_counted(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    conversation = await new_conversation(client, owner)
    created = await share(client, owner, conversation["id"])
    await client.get(f"/api/v1/shared/{created['token']}")
    await client.get(f"/s/{created['token']}")
    listed = await client.get(
        f"/api/v1/conversations/{conversation['id']}/shares", headers=owner.headers
    )
    [row] = listed.json()["data"]
    assert row["access_count"] == 2 and row["last_accessed_at"] is not None
    assert "token" not in row and "url" not in row


async def test_page_escapes_user_text_and_has_a_strict_csp(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    conversation = await new_conversation(client, owner, title="<b>bold</b> title")
    await append(client, owner, conversation["id"], "<script>alert(1)</script> & more")
    await append(
        client,
        owner,
        conversation["id"],
        "ok",
        role="assistant",
        metadata={"model": '"><img src=x onerror=alert(1)>'},
    )
    created = await share(client, owner, conversation["id"])
    response = await client.get(f"/s/{created['token']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "&lt;b&gt;bold&lt;/b&gt; title" in html
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_expired_revoked_and_unknown_tokens_are_404(
    client: httpx.AsyncClient, app: Any
) -> None:
    from sqlalchemy import update

    from convobase.models import Share

    owner = await signup(client)
    conversation = await new_conversation(client, owner)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    expiring = await share(client, owner, conversation["id"], expires_at=soon)
    assert (await client.get(f"/api/v1/shared/{expiring['token']}")).status_code == 200
    async with app.state.runtime.database.session() as db:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await db.execute(
            update(Share).where(Share.id == uuid.UUID(expiring["id"])).values(expires_at=past)
        )
        await db.commit()
    revoked = await share(client, owner, conversation["id"])
    response = await client.delete(f"/api/v1/shares/{revoked['id']}", headers=owner.headers)
    assert response.status_code == 204
    # Revoking again is harmless.
    again = await client.delete(f"/api/v1/shares/{revoked['id']}", headers=owner.headers)
    assert again.status_code == 204
    for token in (expiring["token"], revoked["token"], "cbsh_" + "A" * 43, "nope", "x" * 5000):
        assert_error(await client.get(f"/api/v1/shared/{token}"), 404, "not_found")
        page = await client.get(f"/s/{token}")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
    listed = await client.get(
        f"/api/v1/conversations/{conversation['id']}/shares", headers=owner.headers
    )
    states = {r["id"]: (r["revoked"], r["expired"]) for r in listed.json()["data"]}
    assert states == {expiring["id"]: (False, True), revoked["id"]: (True, False)}


async def test_deleted_conversation_takes_its_links(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    conversation = await new_conversation(client, owner)
    created = await share(client, owner, conversation["id"])
    await client.delete(f"/api/v1/conversations/{conversation['id']}", headers=owner.headers)
    assert_error(await client.get(f"/api/v1/shared/{created['token']}"), 404, "not_found")


async def test_path_is_bounded(client: httpx.AsyncClient, app: Any) -> None:
    app.state.runtime.settings.share_max_messages = 3
    owner = await signup(client)
    conversation = await new_conversation(client, owner)
    for i in range(5):
        await append(client, owner, conversation["id"], f"m{i}")
    snapshot = await share(client, owner, conversation["id"], mode="snapshot")
    live = await share(client, owner, conversation["id"])
    for created in (snapshot, live):
        body = (await client.get(f"/api/v1/shared/{created['token']}")).json()
        assert [m["content"] for m in body["messages"]] == ["m2", "m3", "m4"]
        assert body["truncated"] is True
    assert "Only the latest 3 messages" in (await client.get(f"/s/{live['token']}")).text


async def test_live_view_follows_the_current_branch(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    conversation = await new_conversation(client, owner)
    question = await append(client, owner, conversation["id"], "q")
    first = await append(client, owner, conversation["id"], "a1", role="assistant")
    await append(
        client, owner, conversation["id"], "a2", role="assistant", parent_id=question["id"]
    )
    created = await share(client, owner, conversation["id"])
    body = (await client.get(f"/api/v1/shared/{created['token']}")).json()
    assert [m["content"] for m in body["messages"]] == ["q", "a2"]
    await client.patch(
        f"/api/v1/conversations/{conversation['id']}",
        headers=owner.headers,
        json={"current_leaf_id": first["id"]},
    )
    body = (await client.get(f"/api/v1/shared/{created['token']}")).json()
    assert [m["content"] for m in body["messages"]] == ["q", "a1"]


async def test_empty_conversation_can_be_shared(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    conversation = await new_conversation(client, owner)
    created = await share(client, owner, conversation["id"], mode="snapshot")
    body = (await client.get(f"/api/v1/shared/{created['token']}")).json()
    assert body["messages"] == [] and body["title"] is None
    assert "No messages yet" in (await client.get(f"/s/{created['token']}")).text

"""Conversations: CRUD, the newest-activity list with keyset pages and filters, the active one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


async def test_create_get_update_delete(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    created = await new_conversation(
        client,
        user,
        title="Trip",
        domain="travel",
        language="en",
        model="gpt-x",
        system_prompt="Be brief.",
        settings={"temperature": 0.3, "max_tokens": 500, "seed": 7},
        tags=["work", "work", "travel"],
        pinned=True,
    )
    assert created["settings"] == {"temperature": 0.3, "max_tokens": 500, "seed": 7}
    assert created["tags"] == ["work", "travel"]
    assert created["message_count"] == 0 and created["last_message_at"] is None
    url = f"/api/v1/conversations/{created['id']}"
    assert (await client.get(url, headers=user.headers)).json() == created

    patched = await client.patch(
        url,
        headers=user.headers,
        json={
            "title": "Trip to Lisbon",
            "archived": True,
            "system_prompt": None,
            "tags": ["lisbon"],
        },
    )
    body = patched.json()
    assert body["title"] == "Trip to Lisbon" and body["archived"] is True
    assert body["system_prompt"] is None and body["tags"] == ["lisbon"]
    assert body["domain"] == "travel" and body["pinned"] is True  # untouched

    await append(client, user, created["id"], "a message")
    assert (await client.delete(url, headers=user.headers)).status_code == 204
    assert_error(await client.get(url, headers=user.headers), 404, "not_found")
    assert_error(await client.get(f"{url}/messages", headers=user.headers), 404)


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "t" * 501},
        {"tags": [f"t{i}" for i in range(51)]},
        {"tags": ["x" * 65]},
        {"tags": [" "]},
        {"settings": {"temperature": 3}},
        {"settings": {"max_tokens": 0}},
        {"settings": {"blob": "x" * 20_000}},
        {"system_prompt": "s" * 100_001},
        {"owner": "me"},
        {"pinned": "often"},
        {"domain": "d" * 65},
    ],
)
async def test_bad_conversation_input(client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
    user = await signup(client)
    assert_error(
        await client.post("/api/v1/conversations", headers=user.headers, json=payload),
        422,
        "validation_error",
    )
    conversation = await new_conversation(client, user, title="keep")
    url = f"/api/v1/conversations/{conversation['id']}"
    assert_error(await client.patch(url, headers=user.headers, json=payload), 422)
    listed = (await client.get("/api/v1/conversations", headers=user.headers)).json()
    assert [c["title"] for c in listed["data"]] == ["keep"]


async def test_list_newest_activity_first_with_pages_and_counts(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    ids = [(await new_conversation(client, user, title=f"c{i}"))["id"] for i in range(5)]
    await append(client, user, ids[1], "bump")  # c1 becomes the most recent activity
    await append(client, user, ids[1], "again")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = "/api/v1/conversations?limit=2&include_total=true" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = (await client.get(url, headers=user.headers)).json()
        assert page["total"] == 5
        seen += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [c["title"] for c in seen] == ["c1", "c4", "c3", "c2", "c0"]
    first = seen[0]
    assert first["message_count"] == 2 and first["last_message_at"] is not None
    assert all(c["message_count"] == 0 for c in seen[1:])


async def test_filters(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    await new_conversation(client, user, title="a", tags=["x"], domain="legal")
    await new_conversation(client, user, title="b", tags=["y"], pinned=True)
    await new_conversation(client, user, title="c", archived=True, tags=["x"])

    async def titles(query: str) -> list[str]:
        response = await client.get(f"/api/v1/conversations?{query}", headers=user.headers)
        assert response.status_code == 200, response.text
        return sorted(c["title"] for c in response.json()["data"])

    assert await titles("") == ["a", "b"]  # archived hidden by default
    assert await titles("archived=true") == ["c"]
    assert await titles("archived=any") == ["a", "b", "c"]
    assert await titles("pinned=true") == ["b"]
    assert await titles("tag=x") == ["a"]
    assert await titles("tag=x&archived=any") == ["a", "c"]
    assert await titles("domain=legal") == ["a"]
    for bad in ("archived=maybe", "limit=0", "limit=201", "cursor=abc", "tag="):
        assert_error(
            await client.get(f"/api/v1/conversations?{bad}", headers=user.headers),
            400 if "cursor" in bad else 422,
        )


async def test_forged_cursor_is_400(client: httpx.AsyncClient) -> None:
    import base64
    import json

    user = await signup(client)
    for _ in range(3):
        await new_conversation(client, user)
    page = (await client.get("/api/v1/conversations?limit=1", headers=user.headers)).json()
    raw = base64.urlsafe_b64decode(page["next_cursor"] + "==")
    forged_payload = json.dumps(["2999-01-01T00:00:00+00:00", "0" * 32]).encode()
    forged = base64.urlsafe_b64encode(raw[:12] + forged_payload).decode().rstrip("=")
    assert_error(
        await client.get(f"/api/v1/conversations?cursor={forged}", headers=user.headers),
        400,
        "invalid_cursor",
    )


async def test_active_conversation(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    other = await signup(client)
    conversation = await new_conversation(client, user, title="where I was")
    url = "/api/v1/auth/sessions/current/conversation"
    assert (await client.get(url, headers=user.headers)).json()["conversation_id"] is None
    put = await client.put(url, headers=user.headers, json={"conversation_id": conversation["id"]})
    assert put.status_code == 200
    got = (await client.get(url, headers=user.headers)).json()
    assert got["conversation_id"] == conversation["id"]
    assert got["conversation"]["title"] == "where I was"
    sessions = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()["data"]
    assert sessions[0]["active_conversation_id"] == conversation["id"]
    # Someone else's conversation is 404 and changes nothing.
    assert_error(
        await client.put(url, headers=other.headers, json={"conversation_id": conversation["id"]}),
        404,
    )
    assert (await client.get(url, headers=other.headers)).json()["conversation_id"] is None
    # A deleted conversation is forgotten.
    await client.delete(f"/api/v1/conversations/{conversation['id']}", headers=user.headers)
    assert (await client.get(url, headers=user.headers)).json()["conversation_id"] is None

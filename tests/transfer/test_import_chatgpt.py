"""ChatGPT imports through POST /api/v1/import: tree, roles, parts, search, idempotency, skips."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import Account, assert_error, new_conversation, signup
from tests.transfer import chatgpt_data

pytestmark = pytest.mark.usefixtures("app")


async def upload(
    client: httpx.AsyncClient,
    user: Account,
    data: bytes,
    name: str = "conversations.json",
    content_type: str = "application/json",
) -> httpx.Response:
    return await client.post(
        "/api/v1/import", headers=user.headers, files={"file": (name, data, content_type)}
    )


async def imported(client: httpx.AsyncClient, user: Account, data: bytes, **kw: Any) -> Any:
    response = await upload(client, user, data, **kw)
    assert response.status_code == 200, response.text
    return response.json()


async def conversations(client: httpx.AsyncClient, user: Account) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/conversations?limit=100", headers=user.headers)
    assert response.status_code == 200, response.text
    return {c["title"]: c for c in response.json()["data"]}


async def messages(client: httpx.AsyncClient, user: Account, cid: str, q: str = "") -> Any:
    response = await client.get(
        f"/api/v1/conversations/{cid}/messages?limit=100{q}", headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_realistic_export(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    report = await imported(client, user, chatgpt_data.as_bytes(chatgpt_data.realistic()))
    assert report["source"] == "chatgpt"
    assert report["conversations"] == {"imported": 3, "skipped": 3}
    skipped = {s["index"]: s for s in report["skipped"]}
    assert skipped[2]["reason"] == "cycle" and skipped[2]["id"] == "conv-cycle"
    assert skipped[4]["reason"] == "invalid_mapping" and skipped[4]["id"] == "conv-broken"
    assert skipped[5]["reason"] == "not_an_object"
    assert report["orphans_reattached"] == 1
    # trip: 7 messages (hidden system and the empty root dropped), photo 2, orphan 2
    assert report["messages"]["imported"] == 11
    assert report["messages"]["skipped_by_reason"] == {"no_message": 2, "hidden": 1}

    found = await conversations(client, user)
    assert set(found) == {"Trip to Lisbon", "Bird photo", "Orphan"}
    trip = found["Trip to Lisbon"]
    assert trip["message_count"] == 7 and trip["model"] == "gpt-4o"
    assert trip["created_at"].startswith("2023-11-14T22:13:20")
    rows = await messages(client, user, trip["id"])
    by_text = {m["content"]: m for m in rows}
    # Two branches from the root: the original question and its edit.
    first, edited = by_text["Plan a day in Lisbon"], by_text["Plan two days in Lisbon"]
    assert first["parent_id"] is None and edited["parent_id"] is None
    assert by_text["Start at Belem."]["parent_id"] == first["id"]
    assert by_text["Start at Belem."]["metadata"]["model"] == "gpt-4"
    code = next(m for m in rows if m["parts"][0]["type"] == "code")
    assert code["parts"] == [{"type": "code", "code": "print(2 * 24)", "language": "python"}]
    assert code["parent_id"] == edited["id"]
    out = by_text["48"]
    assert out["role"] == "tool" and out["parent_id"] == code["id"]
    assert out["parts"] == [
        {"type": "tool_result", "tool_call_id": "python", "content": "48", "is_error": False}
    ]
    quote = next(m for m in rows if "Alfama is the oldest" in m["content"])
    assert quote["role"] == "tool" and "https://example.com/lisbon" in quote["content"]
    answer = by_text["Day one: Alfama. Day two: Sintra."]
    assert trip["current_leaf_id"] == answer["id"]
    assert [m["created_at"][:19] for m in rows] == sorted(m["created_at"][:19] for m in rows)
    # The current branch, root to leaf.
    path = await messages(client, user, trip["id"], f"&leaf_id={answer['id']}")
    assert [m["content"][:10] for m in path] == [
        "Plan two d",
        "print(2 * ",
        "48",
        "Lisbon gui",
        "Day one: A",
    ]

    photo = found["Bird photo"]
    question = (await messages(client, user, photo["id"]))[0]
    assert question["parts"][0]["type"] == "image"
    assert "640x480" in question["parts"][0]["alt"]
    assert question["parts"][1] == {"type": "text", "text": "What bird is this?"}

    orphan_rows = await messages(client, user, found["Orphan"]["id"])
    assert [m["parent_id"] for m in orphan_rows] == [None, None]

    # Imported messages and titles are searchable.
    hits = await client.get("/api/v1/search", params={"q": "kingfisher"}, headers=user.headers)
    assert [h["conversation_id"] for h in hits.json()["data"]] == [photo["id"]]
    hits = await client.get("/api/v1/search", params={"q": "Lisbon"}, headers=user.headers)
    assert {h["conversation_id"] for h in hits.json()["data"]} == {trip["id"]}


async def test_idempotent_and_zip(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    data = [chatgpt_data.trip(), chatgpt_data.photo()]
    first = await imported(
        client, user, chatgpt_data.as_zip(data), name="export.zip", content_type="application/zip"
    )
    assert first["conversations"] == {"imported": 2, "skipped": 0}
    again = await imported(client, user, chatgpt_data.as_bytes(data))
    assert again["conversations"] == {"imported": 0, "skipped": 2}
    assert {s["reason"] for s in again["skipped"]} == {"already_imported"}
    assert len(await conversations(client, user)) == 2
    # A folder inside the zip is fine too; deleting a conversation lets it come back.
    found = await conversations(client, user)
    response = await client.delete(
        f"/api/v1/conversations/{found['Bird photo']['id']}", headers=user.headers
    )
    assert response.status_code == 204
    third = await imported(
        client,
        user,
        chatgpt_data.as_zip(data, folder="export/"),
        name="e.zip",
        content_type="application/zip",
    )
    assert third["conversations"] == {"imported": 1, "skipped": 1}
    # Duplicates inside one file are imported once.
    other = await signup(client)
    twice = await imported(client, other, chatgpt_data.as_bytes([data[1], data[1]]))
    assert twice["conversations"] == {"imported": 1, "skipped": 1}
    assert twice["skipped"][0]["reason"] == "duplicate"


async def test_other_users_untouched(client: httpx.AsyncClient) -> None:
    owner, other = await signup(client), await signup(client)
    theirs = await new_conversation(client, other, title="Mine")
    await imported(client, owner, chatgpt_data.as_bytes([chatgpt_data.trip()]))
    assert set(await conversations(client, other)) == {"Mine"}
    assert theirs["id"] in {c["id"] for c in (await conversations(client, other)).values()}
    # The same source ids are the other user's to import too (the ledger is per user).
    report = await imported(client, other, chatgpt_data.as_bytes([chatgpt_data.trip()]))
    assert report["conversations"]["imported"] == 1
    hits = await client.get("/api/v1/search", params={"q": "Sintra"}, headers=owner.headers)
    assert len(hits.json()["data"]) == 1  # only the owner's own copy


async def test_guest_and_anonymous_refused(client: httpx.AsyncClient) -> None:
    data = chatgpt_data.as_bytes([chatgpt_data.trip()])
    response = await client.post("/api/v1/import", files={"file": ("c.json", data)})
    assert_error(response, 401)
    guest = await client.post("/api/v1/auth/guest")
    if guest.status_code != 201:
        pytest.skip("guest sessions not available")
    token = guest.json()["session"]["token"]
    response = await client.post(
        "/api/v1/import",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("c.json", data, "application/json")},
    )
    assert_error(response, 403, "guest_not_allowed")

"""POST /api/v1/import/local: chats a client kept before signing in, idempotent by its ids."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import assert_error, signup
from tests.transfer.test_import_chatgpt import conversations, messages

pytestmark = pytest.mark.usefixtures("app")

LOCAL: dict[str, Any] = {
    "conversations": [
        {
            "id": "local-1",
            "title": "Offline chat",
            "created_at": "2024-05-01T10:00:00Z",
            "messages": [
                {"id": "m1", "role": "user", "content": "Hi there", "created_at": 1714557600.5},
                {
                    "id": "m2",
                    "role": "assistant",
                    "content": "Hello!",
                    "created_at": "2024-05-01T10:00:01Z",
                    "model": "llama3",
                },
                # A branch: another answer to m1.
                {"id": "m3", "role": "assistant", "content": "Hey", "parent_id": "m1"},
            ],
        },
        {"id": "local-2", "title": "No messages yet", "messages": []},
        {"id": "local-3", "messages": [{"id": "x", "role": "wizard", "content": "?"}]},
        {"title": "no id"},
    ]
}


async def test_local_import(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    response = await client.post("/api/v1/import/local", headers=user.headers, json=LOCAL)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["source"] == "local"
    assert report["conversations"] == {"imported": 2, "skipped": 2}
    assert [(s["index"], s["reason"]) for s in report["skipped"]] == [
        (2, "invalid_conversation"),
        (3, "invalid_conversation"),
    ]
    assert report["skipped"][0]["id"] == "local-3"
    found = await conversations(client, user)
    assert set(found) == {"Offline chat", "No messages yet"}
    rows = await messages(client, user, found["Offline chat"]["id"])
    by_text = {m["content"]: m for m in rows}
    assert by_text["Hi there"]["created_at"].startswith("2024-05-01T10:00:00.5")
    assert by_text["Hello!"]["parent_id"] == by_text["Hi there"]["id"]
    assert by_text["Hello!"]["metadata"]["model"] == "llama3"
    assert by_text["Hey"]["parent_id"] == by_text["Hi there"]["id"]
    # Sent again (a client retrying): nothing new.
    again = await client.post("/api/v1/import/local", headers=user.headers, json=LOCAL)
    assert again.json()["conversations"] == {"imported": 0, "skipped": 4}
    assert len(await conversations(client, user)) == 2


async def test_local_import_refusals(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/import/local", json=LOCAL)
    assert_error(response, 401)
    user = await signup(client)
    bad = await client.post("/api/v1/import/local", headers=user.headers, json={"chats": []})
    assert_error(bad, 422)
    bad = await client.post(
        "/api/v1/import/local", headers=user.headers, json={"conversations": "nope"}
    )
    assert_error(bad, 422)
    assert await conversations(client, user) == {}

"""Edge cases around shares: times with no UTC equivalent (a 422 everywhere a time is taken,
not a 500), and public views that carry no ids of ours (file ids included)."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from tests.helpers import assert_error, new_conversation, signup
from tests.sharing.test_links import share

pytestmark = pytest.mark.usefixtures("app")

FAR = "9999-12-31T23:59:59-05:00"  # valid ISO-8601, but past the last UTC instant
EARLY = "0001-01-01T00:00:00+05:00"


@pytest.mark.parametrize("when", [FAR, EARLY])
async def test_times_without_a_utc_equivalent_are_422(client: httpx.AsyncClient, when: str) -> None:
    user = await signup(client)
    chat = await new_conversation(client, user)
    cid = chat["id"]
    h = user.headers
    requests = [
        ("POST", f"/api/v1/conversations/{cid}/shares", {"kind": "link", "expires_at": when}, {}),
        ("POST", "/api/v1/api-keys", {"name": "k", "expires_at": when}, {}),
        ("GET", "/api/v1/search", None, {"q": "x", "start": when}),
        ("GET", "/api/v1/usage/summary", None, {"end": when}),
        ("GET", f"/api/v1/conversations/{cid}/logs", None, {"since": when}),
    ]
    for method, url, body, params in requests:
        response = await client.request(method, url, headers=h, json=body, params=params)
        assert_error(response, 422, "validation_error")
    event = {"provider": "p", "model": "m", "input_tokens": 1, "occurred_at": when}
    response = await client.post("/api/v1/usage/events", headers=h, json=event)
    assert_error(response, 422, "validation_error")


async def test_public_views_carry_no_file_ids(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    chat = await new_conversation(client, owner, title="With a file")
    uploaded = await client.post(
        "/api/v1/files",
        headers=owner.headers,
        json={
            "filename": "notes.txt",
            "data_base64": base64.b64encode(b"private notes").decode(),
            "conversation_id": chat["id"],
        },
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    parts = [
        {"type": "text", "text": "see the file"},
        {"type": "file", "file_id": file_id, "name": "notes.txt"},
        {"type": "image", "file_id": file_id, "alt": "a picture"},
    ]
    tool_call = [{"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": {"q": 1}}]
    for role, body in (("user", parts), ("assistant", tool_call)):
        response = await client.post(
            f"/api/v1/conversations/{chat['id']}/messages",
            headers=owner.headers,
            json={"role": role, "parts": body},
        )
        assert response.status_code == 201, response.text
    for mode in ("snapshot", "live"):
        token = (await share(client, owner, chat["id"], mode=mode))["token"]
        response = await client.get(f"/api/v1/shared/{token}")
        assert response.status_code == 200, response.text
        assert file_id not in response.text and chat["id"] not in response.text
        first, second = response.json()["messages"]
        assert first["parts"][1] == {"type": "file", "name": "notes.txt"}
        assert second["parts"][0]["name"] == "lookup"
        page = await client.get(f"/s/{token}")
        assert page.status_code == 200 and file_id not in page.text
        assert "see the file" in page.text and "notes.txt" in page.text
    assert uuid.UUID(file_id)

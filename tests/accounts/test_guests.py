"""Guests: a real user row with role guest, a session like sign-up's, limits and refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import start_guest
from tests.helpers import PASSWORD, append, assert_error, make_admin, new_conversation

pytestmark = pytest.mark.usefixtures("app")


async def test_guest_gets_a_session_in_the_sign_up_shape(
    client: httpx.AsyncClient, app: Any
) -> None:
    response = await client.post("/api/v1/auth/guest")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"user", "session"}
    user, session = body["user"], body["session"]
    assert user["role"] == "guest" and user["has_password"] is False
    assert user["email"].endswith("@guest.invalid")
    assert session["token"].startswith("cbs_")
    assert "convobase_session=" in response.headers["set-cookie"]
    # Guests expire after their idle time, not the ordinary session lifetime.
    expires = datetime.fromisoformat(session["expires_at"])
    idle = timedelta(hours=app.state.runtime.settings.guest_idle_hours)
    assert abs(expires - datetime.now(expires.tzinfo) - idle) < timedelta(minutes=1)
    headers = {"Authorization": f"Bearer {session['token']}"}
    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["id"] == user["id"]


async def test_guest_can_chat(client: httpx.AsyncClient) -> None:
    guest = await start_guest(client)
    conversation = await new_conversation(client, guest, title="as a guest")
    await append(client, guest, conversation["id"], "hello")
    listed = await client.get("/api/v1/conversations", headers=guest.headers)
    assert [c["id"] for c in listed.json()["data"]] == [conversation["id"]]


async def test_guests_are_rate_limited_per_address(client: httpx.AsyncClient, app: Any) -> None:
    limit = app.state.runtime.settings.guest_ip_attempts
    for _ in range(limit):
        await start_guest(client)
    response = await client.post("/api/v1/auth/guest")
    error = assert_error(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) > 0, error


@pytest.mark.parametrize("settings_overrides", [{"guests_enabled": False}])
async def test_guests_can_be_turned_off(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/v1/auth/guest"), 403, "guests_disabled")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/api-keys", {"name": "k"}),
        ("GET", "/api/v1/api-keys", None),
        ("PUT", "/api/v1/provider-keys/openai", {"api_key": "sk-test-1234567890abcdef"}),
        ("GET", "/api/v1/provider-keys", None),
        ("POST", "/api/v1/auth/password", {"new_password": PASSWORD}),
        ("GET", "/api/v1/auth/oauth/idp/authorize?link=true", None),
    ],
)
async def test_what_guests_may_not_do(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    guest = await start_guest(client)
    response = await client.request(method, path, headers=guest.headers, json=body)
    assert_error(response, 403, "guest_not_allowed")


async def test_guest_is_no_admin(client: httpx.AsyncClient) -> None:
    guest = await start_guest(client)
    response = await client.get("/api/v1/admin/users", headers=guest.headers)
    assert_error(response, 403, "admin_required")


async def test_an_admin_cannot_turn_a_guest_into_an_account(
    client: httpx.AsyncClient, app: Any
) -> None:
    admin = await make_admin(client, app)
    guest = await start_guest(client)
    url = f"/api/v1/admin/users/{guest.user['id']}"
    for role in ("user", "admin"):
        response = await client.patch(url, headers=admin.headers, json={"role": role})
        assert_error(response, 409, "guest_role")
    me = await client.get("/api/v1/auth/me", headers=guest.headers)
    assert me.status_code == 200 and me.json()["role"] == "guest"
    # Other changes stay possible: an admin may still disable a guest.
    response = await client.patch(url, headers=admin.headers, json={"disabled": True})
    assert response.status_code == 200, response.text


async def test_guest_email_domain_is_reserved(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "guest-x@guest.invalid", "password": PASSWORD}
    )
    # Refused by the email check already (a reserved TLD); the service refuses it again.
    assert_error(response, 422, "validation_error")


async def test_a_guest_cannot_reach_another_guests_data(client: httpx.AsyncClient) -> None:
    owner = await start_guest(client)
    intruder = await start_guest(client)
    conversation = await new_conversation(client, owner, title="mine")
    message = await append(client, owner, conversation["id"], "secret")
    cid, mid = conversation["id"], message["id"]
    file = await client.post(
        "/api/v1/files",
        headers=owner.headers,
        json={"filename": "g.txt", "data_base64": "c2VjcmV0Cg=="},
    )
    assert file.status_code == 201, file.text
    for method, path, body in [
        ("GET", f"/api/v1/conversations/{cid}", None),
        ("PATCH", f"/api/v1/conversations/{cid}", {"title": "taken"}),
        ("DELETE", f"/api/v1/conversations/{cid}", None),
        ("GET", f"/api/v1/conversations/{cid}/messages", None),
        ("POST", f"/api/v1/conversations/{cid}/messages", {"role": "user", "content": "x"}),
        ("DELETE", f"/api/v1/conversations/{cid}/messages/{mid}", None),
        ("GET", f"/api/v1/files/{file.json()['id']}", None),
        ("DELETE", f"/api/v1/files/{file.json()['id']}", None),
    ]:
        response = await client.request(method, path, headers=intruder.headers, json=body)
        assert_error(response, 404, "not_found")
    assert (await client.get("/api/v1/conversations", headers=intruder.headers)).json()[
        "data"
    ] == []
    search = await client.get("/api/v1/search", params={"q": "secret"}, headers=intruder.headers)
    assert search.status_code == 200 and search.json()["data"] == []
    # The owner's data is untouched.
    detail = await client.get(f"/api/v1/conversations/{cid}/messages/{mid}", headers=owner.headers)
    assert detail.json()["content"] == "secret"
    assert (await client.get(f"/api/v1/conversations/{cid}", headers=owner.headers)).json()[
        "title"
    ] == "mine"

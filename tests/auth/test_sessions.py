"""Sessions: list, revoke, refresh and rotate, sliding expiry, password change, cookies, CSRF."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from convobase.auth.tokens import token_hash
from tests.helpers import PASSWORD, Account, assert_error, signup

pytestmark = pytest.mark.usefixtures("app")


async def login(client: httpx.AsyncClient, account: Account, **headers: str) -> str:
    response = await client.post(
        "/api/v1/auth/login",
        headers=headers,
        json={"email": account.email, "password": account.password},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["session"]["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_list_and_revoke_sessions(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    other = await login(client, account, **{"User-Agent": "phone/1.0"})
    listed = (await client.get("/api/v1/auth/sessions", headers=account.headers)).json()
    assert listed["next_cursor"] is None
    assert len(listed["data"]) == 2
    current = [s for s in listed["data"] if s["current"]]
    assert len(current) == 1 and current[0]["id"] == account.session["id"]
    phone = next(s for s in listed["data"] if not s["current"])
    assert phone["user_agent"] == "phone/1.0" and phone["ip"] == "127.0.0.1"
    assert "token" not in phone and "token_hash" not in phone

    response = await client.delete(f"/api/v1/auth/sessions/{phone['id']}", headers=account.headers)
    assert response.status_code == 204
    assert_error(await client.get("/api/v1/auth/me", headers=bearer(other)), 401, "invalid_token")
    assert_error(
        await client.delete(f"/api/v1/auth/sessions/{phone['id']}", headers=account.headers),
        404,
        "not_found",
    )


async def test_someone_elses_session_is_404_and_survives(client: httpx.AsyncClient) -> None:
    alice = await signup(client)
    bob = await signup(client)
    response = await client.delete(
        f"/api/v1/auth/sessions/{bob.session['id']}", headers=alice.headers
    )
    assert_error(response, 404, "not_found")
    assert (await client.get("/api/v1/auth/me", headers=bob.headers)).status_code == 200
    assert_error(
        await client.delete(f"/api/v1/auth/sessions/{uuid.uuid4()}", headers=alice.headers), 404
    )
    assert_error(
        await client.delete("/api/v1/auth/sessions/not-a-uuid", headers=alice.headers), 422
    )


async def test_refresh_extends_and_rotate_replaces_the_token(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    refreshed = await client.post("/api/v1/auth/sessions/refresh", headers=account.headers)
    assert refreshed.status_code == 200
    body = refreshed.json()["session"]
    assert body["token"] is None and body["id"] == account.session["id"]
    assert body["expires_at"] >= account.session["expires_at"]

    rotated = await client.post(
        "/api/v1/auth/sessions/refresh", headers=account.headers, json={"rotate": True}
    )
    new_token = rotated.json()["session"]["token"]
    assert new_token and new_token != account.token
    assert_error(await client.get("/api/v1/auth/me", headers=account.headers), 401)
    assert (await client.get("/api/v1/auth/me", headers=bearer(new_token))).status_code == 200
    assert_error(
        await client.post(
            "/api/v1/auth/sessions/refresh", headers=bearer(new_token), json={"rotate": "sometimes"}
        ),
        422,
    )


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"session_touch_seconds": 0}


async def test_activity_slides_the_expiry(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    first = (await client.get("/api/v1/auth/sessions", headers=account.headers)).json()["data"][0]
    await client.get("/api/v1/auth/me", headers=account.headers)
    second = (await client.get("/api/v1/auth/sessions", headers=account.headers)).json()["data"][0]
    assert second["last_seen_at"] > first["last_seen_at"]
    assert second["expires_at"] > first["expires_at"]


async def test_expired_session_is_refused(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    runtime = app.state.runtime
    past = datetime.now().astimezone() - timedelta(seconds=1)
    async with runtime.database.session() as db:
        store = runtime.session_store(db)
        record = await store.get_by_token_hash(token_hash(account.token), past - timedelta(1))
        await store.touch(record.id, past - timedelta(hours=1), past)
        await db.commit()
    assert_error(await client.get("/api/v1/auth/me", headers=account.headers), 401, "invalid_token")


async def test_password_change_revokes_other_sessions(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    other = await login(client, account)
    wrong = await client.post(
        "/api/v1/auth/password",
        headers=account.headers,
        json={"current_password": "not it at all", "new_password": "a brand new password"},
    )
    assert_error(wrong, 401, "invalid_credentials")
    weak = await client.post(
        "/api/v1/auth/password",
        headers=account.headers,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert_error(weak, 422, "validation_error")
    assert (await client.get("/api/v1/auth/me", headers=bearer(other))).status_code == 200

    ok = await client.post(
        "/api/v1/auth/password",
        headers=account.headers,
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
    )
    assert ok.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=account.headers)).status_code == 200
    assert_error(await client.get("/api/v1/auth/me", headers=bearer(other)), 401)
    old = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    assert_error(old, 401, "invalid_credentials")
    new = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "a brand new password"}
    )
    assert new.status_code == 200


async def test_cookie_auth_and_csrf(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "c@example.com", "password": PASSWORD}
    )
    csrf = response.json()["session"]["csrf_token"]
    assert client.cookies.get("convobase_session")
    assert client.cookies.get("convobase_csrf") == csrf
    # Reads work with the cookie alone.
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    # A write without Origin and without the CSRF token is refused, and changes nothing.
    refused = await client.patch("/api/v1/auth/me", json={"name": "Mallory"})
    assert_error(refused, 403, "csrf_failed")
    foreign = await client.patch(
        "/api/v1/auth/me", json={"name": "Mallory"}, headers={"Origin": "https://evil.example"}
    )
    assert_error(foreign, 403, "csrf_failed")
    wrong_token = await client.patch(
        "/api/v1/auth/me", json={"name": "Mallory"}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert_error(wrong_token, 403, "csrf_failed")
    assert (await client.get("/api/v1/auth/me")).json()["name"] is None
    # Same origin, or the token, passes.
    same = await client.patch(
        "/api/v1/auth/me", json={"name": "Carol"}, headers={"Origin": "http://testserver"}
    )
    assert same.status_code == 200
    with_token = await client.patch(
        "/api/v1/auth/me", json={"name": "Caroline"}, headers={"X-CSRF-Token": csrf}
    )
    assert with_token.json()["name"] == "Caroline"
    # Logout clears the cookies.
    out = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert not client.cookies.get("convobase_session")
    assert_error(await client.get("/api/v1/auth/me"), 401)


async def test_logout_and_refresh_need_a_session(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    key = (
        await client.post("/api/v1/api-keys", headers=account.headers, json={"name": "k"})
    ).json()["key"]
    assert_error(
        await client.post("/api/v1/auth/logout", headers=bearer(key)), 400, "not_a_session"
    )
    assert_error(
        await client.post("/api/v1/auth/sessions/refresh", headers=bearer(key)),
        400,
        "not_a_session",
    )

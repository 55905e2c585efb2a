"""Sign-up, login, logout and `me`, on every engine."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import PASSWORD, assert_error, signup

pytestmark = pytest.mark.usefixtures("app")


async def user_count(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/admin/users?include_total=true", headers=admin_headers)
    return int(response.json()["total"])


async def test_signup_returns_user_and_session_and_sets_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": "Ada@Example.COM", "password": PASSWORD, "name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["name"] == "Ada"
    assert body["user"]["role"] == "user"
    assert body["user"]["has_password"] is True
    assert "password_hash" not in body["user"]
    token = body["session"]["token"]
    assert token.startswith("cbs_") and len(token) >= 4 + 43  # 256 bits, base64url
    cookie = response.headers["set-cookie"]
    assert "convobase_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["id"] == body["user"]["id"]


async def test_duplicate_email_is_409_case_insensitively(client: httpx.AsyncClient) -> None:
    await signup(client, "dup@example.com")
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "DUP@example.com", "password": "another password"}
    )
    assert_error(response, 409, "email_taken")
    # The original account still logs in with its own password.
    login = await client.post(
        "/api/v1/auth/login", json={"email": "dup@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, 422, "validation_error"),
        ({"email": "a@example.com", "password": "short"}, 422, "validation_error"),
        ({"email": "a@example.com", "password": "x" * 5000}, 422, "validation_error"),
        ({"email": "a@example.com", "password": "y" * 1025}, 422, "validation_error"),
        ({"email": "a@example.com", "password": " " * 12}, 422, "validation_error"),
        ({"email": "a@example.com"}, 422, "validation_error"),
        ({"password": PASSWORD}, 422, "validation_error"),
        ({"email": 12, "password": PASSWORD}, 422, "validation_error"),
        ({"email": "a@example.com", "password": ["x"]}, 422, "validation_error"),
        (
            {"email": "a@example.com", "password": PASSWORD, "name": "n" * 201},
            422,
            "validation_error",
        ),
        (
            {"email": "a@example.com", "password": PASSWORD, "role": "admin"},
            422,
            "validation_error",
        ),
        ({"email": "a" * 310 + "@example.com", "password": PASSWORD}, 422, "validation_error"),
        ([], 422, "validation_error"),
    ],
)
async def test_bad_signup_input_is_rejected_and_stores_nothing(
    client: httpx.AsyncClient, payload: Any, status: int, code: str
) -> None:
    response = await client.post("/api/v1/auth/signup", json=payload)
    error = assert_error(response, status, code)
    assert PASSWORD not in response.text  # never echo a password back
    assert error["details"]["errors"]
    # Nothing was created: the same email can still sign up.
    ok = await client.post(
        "/api/v1/auth/signup", json={"email": "a@example.com", "password": PASSWORD}
    )
    assert ok.status_code == 201


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")


async def test_long_password_is_not_truncated(client: httpx.AsyncClient) -> None:
    long_password = "p" * 1000
    await signup(client, "long@example.com", long_password)
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "long@example.com", "password": "p" * 999 + "q"}
    )
    assert_error(wrong, 401, "invalid_credentials")
    right = await client.post(
        "/api/v1/auth/login", json={"email": "long@example.com", "password": long_password}
    )
    assert right.status_code == 200


async def test_wrong_password_and_unknown_email_answer_alike(client: httpx.AsyncClient) -> None:
    await signup(client, "known@example.com")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "known@example.com", "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_login_sets_a_new_session_and_logout_revokes_it(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    login = await client.post(
        "/api/v1/auth/login", json={"email": account.email.upper(), "password": PASSWORD}
    )
    assert login.status_code == 200
    token = login.json()["session"]["token"]
    assert token != account.token
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert_error(await client.get("/api/v1/auth/me", headers=headers), 401, "invalid_token")
    # The other session is untouched.
    assert (await client.get("/api/v1/auth/me", headers=account.headers)).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cbs_made-up-token",
        "Bearer ",
        "Basic abc",
        "Bearer " + "x" * 300,
        "Bearer cbk_nope",
    ],
)
async def test_made_up_tokens_are_401(client: httpx.AsyncClient, header: str) -> None:
    assert_error(await client.get("/api/v1/auth/me", headers={"Authorization": header}), 401)


async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_update_me(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    response = await client.patch(
        "/api/v1/auth/me",
        headers=account.headers,
        json={"name": "Grace", "avatar_url": "https://img.example.com/g.png"},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Grace"
    assert response.json()["avatar_url"] == "https://img.example.com/g.png"
    cleared = await client.patch(
        "/api/v1/auth/me", headers=account.headers, json={"avatar_url": None}
    )
    assert cleared.json()["avatar_url"] is None and cleared.json()["name"] == "Grace"
    for bad in (
        {"avatar_url": "javascript:alert(1)"},
        {"name": ""},
        {"email": "x@y.z"},
        {"name": "n" * 201},
    ):
        assert_error(
            await client.patch("/api/v1/auth/me", headers=account.headers, json=bad),
            422,
            "validation_error",
        )
    me = await client.get("/api/v1/auth/me", headers=account.headers)
    assert me.json()["name"] == "Grace" and me.json()["email"] == account.email


async def test_password_is_stored_as_argon2id(client: httpx.AsyncClient, app: Any) -> None:
    from sqlalchemy import select

    from convobase.models import AuthSession, User

    account = await signup(client, "hash@example.com")
    async with app.state.runtime.database.session() as db:
        user = (await db.execute(select(User).where(User.email == account.email))).scalar_one()
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        if not app.state.runtime.settings.redis_url:
            stored = (await db.execute(select(AuthSession.token_hash))).scalars().all()
            assert account.token not in stored and len(stored) == 1
            assert len(stored[0]) == 64

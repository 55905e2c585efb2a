"""Admin user list and update; roles; disabling refuses the user at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import helpers
from tests.helpers import Account, assert_error, signup

pytestmark = pytest.mark.usefixtures("app")


async def make_admin(client: httpx.AsyncClient, app: Any) -> Account:
    return await helpers.make_admin(client, app, "root@example.com")


async def test_non_admin_is_403(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    assert_error(
        await client.get("/api/v1/admin/users", headers=account.headers), 403, "admin_required"
    )
    assert_error(
        await client.patch(
            f"/api/v1/admin/users/{account.user['id']}",
            headers=account.headers,
            json={"role": "admin"},
        ),
        403,
    )
    me = await client.get("/api/v1/auth/me", headers=account.headers)
    assert me.json()["role"] == "user"


async def test_list_pages_and_filters(client: httpx.AsyncClient, app: Any) -> None:
    admin = await make_admin(client, app)
    emails = [f"u{i}@example.com" for i in range(5)]
    for email in emails:
        await signup(client, email)
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/admin/users?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=admin.headers)).json()
        assert len(page["data"]) <= 2
        seen += [u["email"] for u in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*reversed(emails), admin.email]  # newest first, each exactly once
    filtered = (
        await client.get("/api/v1/admin/users?email=U1&include_total=true", headers=admin.headers)
    ).json()
    assert [u["email"] for u in filtered["data"]] == ["u1@example.com"]
    assert filtered["total"] == 1
    admins = (await client.get("/api/v1/admin/users?role=admin", headers=admin.headers)).json()
    assert [u["email"] for u in admins["data"]] == [admin.email]
    like = (await client.get("/api/v1/admin/users?email=%25", headers=admin.headers)).json()
    assert like["data"] == []  # a literal %, not a wildcard
    for bad in (
        "cursor=@@@",
        "cursor=WyJ4Il0",
        "limit=0",
        "limit=100000",
        "role=god",
        "disabled=maybe",
    ):
        response = await client.get(f"/api/v1/admin/users?{bad}", headers=admin.headers)
        assert response.status_code in (400, 422), (bad, response.text)
        assert_error(response, response.status_code)


async def test_disable_refuses_at_once_and_role_changes(
    client: httpx.AsyncClient, app: Any
) -> None:
    admin = await make_admin(client, app)
    user = await signup(client)
    key = (await client.post("/api/v1/api-keys", headers=user.headers, json={"name": "k"})).json()[
        "key"
    ]
    response = await client.patch(
        f"/api/v1/admin/users/{user.user['id']}", headers=admin.headers, json={"disabled": True}
    )
    assert response.status_code == 200 and response.json()["disabled"] is True
    assert_error(await client.get("/api/v1/auth/me", headers=user.headers), 401)
    assert_error(
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}),
        401,
        "account_disabled",
    )
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert_error(login, 403, "account_disabled")

    enabled = await client.patch(
        f"/api/v1/admin/users/{user.user['id']}",
        headers=admin.headers,
        json={"disabled": False, "role": "admin"},
    )
    assert enabled.json()["role"] == "admin" and enabled.json()["disabled"] is False
    relogin = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert relogin.status_code == 200


async def test_last_admin_is_protected(client: httpx.AsyncClient, app: Any) -> None:
    admin = await make_admin(client, app)
    for change in ({"role": "user"}, {"disabled": True}):
        response = await client.patch(
            f"/api/v1/admin/users/{admin.user['id']}", headers=admin.headers, json=change
        )
        assert_error(response, 409, "last_admin")
    me = (await client.get("/api/v1/auth/me", headers=admin.headers)).json()
    assert me["role"] == "admin" and me["disabled"] is False


async def test_update_bad_input(client: httpx.AsyncClient, app: Any) -> None:
    admin = await make_admin(client, app)
    user = await signup(client)
    for bad in ({"role": "superuser"}, {"disabled": "yes please"}, {"email": "x@y.z"}):
        assert_error(
            await client.patch(
                f"/api/v1/admin/users/{user.user['id']}", headers=admin.headers, json=bad
            ),
            422,
        )
    import uuid

    assert_error(
        await client.patch(
            f"/api/v1/admin/users/{uuid.uuid4()}", headers=admin.headers, json={"role": "admin"}
        ),
        404,
    )

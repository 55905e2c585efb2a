"""Personal API keys: shown once, stored hashed, usable as Bearer, listed, revocable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from convobase.models import ApiKey
from tests.helpers import assert_error, signup

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"api_key_max_per_user": 3, "session_touch_seconds": 0}


async def test_create_use_list_revoke(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    created = await client.post(
        "/api/v1/api-keys", headers=account.headers, json={"name": "laptop"}
    )
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith("cbk_") and body["prefix"] == key[:12]
    assert body["last_used_at"] is None

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["id"] == account.user["id"]

    listed = (await client.get("/api/v1/api-keys", headers=account.headers)).json()["data"]
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0] and key not in str(listed)
    assert listed[0]["last_used_at"] is not None  # recorded after the authenticated call

    async with app.state.runtime.database.session() as db:
        stored = (await db.execute(select(ApiKey))).scalar_one()
        assert stored.key_hash != key and key not in stored.key_hash

    assert (
        await client.delete(f"/api/v1/api-keys/{body['id']}", headers=account.headers)
    ).status_code == 204
    assert_error(
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}),
        401,
        "invalid_token",
    )
    assert (await client.get("/api/v1/api-keys", headers=account.headers)).json()["data"] == []


async def test_foreign_and_unknown_keys_are_404(client: httpx.AsyncClient) -> None:
    alice = await signup(client)
    bob = await signup(client)
    bobs = (await client.post("/api/v1/api-keys", headers=bob.headers, json={"name": "b"})).json()
    assert_error(
        await client.delete(f"/api/v1/api-keys/{bobs['id']}", headers=alice.headers),
        404,
        "not_found",
    )
    assert_error(
        await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=alice.headers), 404
    )
    still = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bobs['key']}"})
    assert still.status_code == 200


async def test_expiry(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert_error(
        await client.post(
            "/api/v1/api-keys", headers=account.headers, json={"name": "old", "expires_at": past}
        ),
        422,
    )
    assert_error(
        await client.post(
            "/api/v1/api-keys",
            headers=account.headers,
            json={"name": "naive", "expires_at": "2030-01-01T00:00:00"},
        ),
        422,
    )
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = (
        await client.post(
            "/api/v1/api-keys", headers=account.headers, json={"name": "soon", "expires_at": future}
        )
    ).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    async with app.state.runtime.database.session() as db:
        await db.execute(update(ApiKey).values(expires_at=datetime.now(UTC) - timedelta(1)))
        await db.commit()
    assert_error(await client.get("/api/v1/auth/me", headers=headers), 401, "invalid_token")


async def test_limits_and_bad_input(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    for bad in ({}, {"name": ""}, {"name": "n" * 101}, {"name": "x", "scope": "all"}, {"name": 5}):
        assert_error(
            await client.post("/api/v1/api-keys", headers=account.headers, json=bad),
            422,
            "validation_error",
        )
    for i in range(3):
        created = await client.post(
            "/api/v1/api-keys", headers=account.headers, json={"name": f"k{i}"}
        )
        assert created.status_code == 201
    assert_error(
        await client.post(
            "/api/v1/api-keys", headers=account.headers, json={"name": "one too many"}
        ),
        409,
        "too_many_api_keys",
    )
    assert len((await client.get("/api/v1/api-keys", headers=account.headers)).json()["data"]) == 3

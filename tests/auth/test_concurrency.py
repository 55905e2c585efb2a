"""Concurrent writers on every engine: no 500s, no lost or duplicated accounts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers import PASSWORD, signup

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"signup_ip_attempts": 1000, "login_ip_attempts": 1000, "session_touch_seconds": 0}


async def test_racing_signups_for_one_email_make_one_account(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/auth/signup", json={"email": "race@example.com", "password": PASSWORD}
            )
            for _ in range(12)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 11, [r.text for r in responses if r.status_code >= 500]


async def test_parallel_logins_and_reads_all_succeed(client: httpx.AsyncClient) -> None:
    account = await signup(client, "busy@example.com")
    logins = [
        client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
        for _ in range(15)
    ]
    reads = [client.get("/api/v1/auth/me", headers=account.headers) for _ in range(30)]
    responses = await asyncio.gather(*logins, *reads)
    assert [r.status_code for r in responses] == [200] * 45, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    sessions = await client.get("/api/v1/auth/sessions", headers=account.headers)
    assert len(sessions.json()["data"]) == 16


async def test_eight_clients_appending_lose_nothing(client: httpx.AsyncClient) -> None:
    from tests.helpers import new_conversation

    account = await signup(client)
    conversation = await new_conversation(client, account)
    url = f"/api/v1/conversations/{conversation['id']}/messages"

    async def writer(n: int) -> list[int]:
        statuses = []
        for i in range(10):
            response = await client.post(
                url, headers=account.headers, json={"role": "user", "content": f"w{n} m{i}"}
            )
            statuses.append(response.status_code)
        return statuses

    results = await asyncio.gather(*(writer(n) for n in range(8)))
    assert all(s == 201 for statuses in results for s in statuses)
    listed = (await client.get(f"{url}?limit=500", headers=account.headers)).json()["data"]
    assert sorted(m["content"] for m in listed) == sorted(
        f"w{n} m{i}" for n in range(8) for i in range(10)
    )
    conv = (
        await client.get(f"/api/v1/conversations/{conversation['id']}", headers=account.headers)
    ).json()
    assert conv["message_count"] == 80
    # Appends without parent_id chain: one unbroken path from the first to the last.
    path = (await client.get(f"{url}?leaf_id=current&limit=500", headers=account.headers)).json()[
        "data"
    ]
    assert len(path) == 80

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
    responses = await asyncio.gather(*(
        client.post("/api/v1/auth/signup", json={"email": "race@example.com", "password": PASSWORD})
        for _ in range(12)
    ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 11, [r.text for r in responses if r.status_code >= 500]


async def test_parallel_logins_and_reads_all_succeed(client: httpx.AsyncClient) -> None:
    account = await signup(client, "busy@example.com")
    logins = [client.post("/api/v1/auth/login",
                          json={"email": account.email, "password": PASSWORD}) for _ in range(15)]
    reads = [client.get("/api/v1/auth/me", headers=account.headers) for _ in range(30)]
    responses = await asyncio.gather(*logins, *reads)
    assert [r.status_code for r in responses] == [200] * 45, \
        [r.text for r in responses if r.status_code != 200][:3]
    sessions = await client.get("/api/v1/auth/sessions", headers=account.headers)
    assert len(sessions.json()["data"]) == 16

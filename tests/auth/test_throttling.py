"""Login and sign-up throttling: 429 with Retry-After, per email and per client address."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import PASSWORD, assert_error, signup

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "login_email_failures": 3,
        "login_ip_attempts": 8,
        "signup_ip_attempts": 4,
        "sessions_max_per_user": 3,
    }


async def test_failed_logins_lock_the_email(client: httpx.AsyncClient) -> None:
    account = await signup(client, "target@example.com")
    for _ in range(3):
        wrong = await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": "wrong password"}
        )
        assert_error(wrong, 401, "invalid_credentials")
    locked = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    error = assert_error(locked, 429, "rate_limited")
    assert int(locked.headers["retry-after"]) >= 1
    assert error["details"]["retry_after"] == int(locked.headers["retry-after"])
    # The existing session still works: throttling never logs anyone out.
    assert (await client.get("/api/v1/auth/me", headers=account.headers)).status_code == 200


async def test_client_address_is_throttled_across_emails(client: httpx.AsyncClient) -> None:
    statuses = []
    for i in range(10):
        response = await client.post(
            "/api/v1/auth/login", json={"email": f"x{i}@example.com", "password": PASSWORD}
        )
        statuses.append(response.status_code)
    assert statuses[:8] == [401] * 8
    assert statuses[8:] == [429, 429]


async def test_signups_are_throttled_per_address(client: httpx.AsyncClient) -> None:
    for i in range(4):
        await signup(client, f"s{i}@example.com")
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "s9@example.com", "password": PASSWORD}
    )
    assert_error(response, 429, "rate_limited")


async def test_sessions_per_user_are_bounded(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    tokens = [account.token]
    for _ in range(3):
        response = await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        tokens.append(response.json()["session"]["token"])
    listed = (
        await client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {tokens[-1]}"})
    ).json()
    assert len(listed["data"]) == 3
    # The oldest went first.
    assert_error(await client.get("/api/v1/auth/me", headers=account.headers), 401)


@pytest.mark.parametrize("settings_overrides", [{"signup_enabled": False}])
async def test_signup_can_be_closed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "late@example.com", "password": PASSWORD}
    )
    assert_error(response, 403, "signup_closed")

"""Quotas: limits, reserve -> commit | release, and exactly k of N concurrent requests through."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers import Account, assert_error, make_admin, signup

RESERVE = "/api/v1/quotas/reservations"


async def set_quota(client: httpx.AsyncClient, boss: Account, user: Account, **quota: Any) -> None:
    response = await client.patch(
        f"/api/v1/admin/users/{user.user['id']}", headers=boss.headers, json={"quota": quota}
    )
    assert response.status_code == 200, response.text


async def test_no_limits_by_default(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    held = await client.post(RESERVE, headers=user.headers, json={"tokens": 10**9})
    assert held.status_code == 201
    assert held.json() == {"id": None, "expires_at": None, "unlimited": True}
    status = (await client.get("/api/v1/quotas", headers=user.headers)).json()
    assert status["unlimited"] is True and status["requests_per_day"]["limit"] is None


@pytest.mark.parametrize("settings_overrides", [{"quota_requests_per_day": 5}])
async def test_concurrent_reservations_let_exactly_the_allowance_through(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    # Two requests already counted today leave an allowance of 3.
    for _ in range(2):
        await client.post(
            "/api/v1/usage/events", headers=user.headers, json={"model": "gpt-4o-mini"}
        )
    responses = await asyncio.gather(
        *(client.post(RESERVE, headers=user.headers, json={}) for _ in range(12))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 3 and codes.count(429) == 9, codes
    refused = next(r for r in responses if r.status_code == 429)
    error = assert_error(refused, 429, "quota_exceeded")
    assert error["details"]["limit"] == "requests_per_day"
    assert error["details"]["allowed"] == 5 and error["details"]["used"] == 2
    assert error["details"]["reserved"] == 3
    assert int(refused.headers["retry-after"]) >= 1
    status = (await client.get("/api/v1/quotas", headers=user.headers)).json()
    assert status["requests_per_day"] | {"resets_at": None} == {
        "limit": 5,
        "used": 2,
        "reserved": 3,
        "remaining": 0,
        "resets_at": None,
    }


@pytest.mark.parametrize("settings_overrides", [{"quota_requests_per_day": 2}])
async def test_commit_turns_a_reservation_into_usage_and_release_gives_it_back(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    first = (await client.post(RESERVE, headers=user.headers, json={})).json()
    second = (await client.post(RESERVE, headers=user.headers, json={})).json()
    assert_error(await client.post(RESERVE, headers=user.headers, json={}), 429)
    # Releasing one frees its place; releasing it again is a 404.
    assert (
        await client.delete(f"{RESERVE}/{second['id']}", headers=user.headers)
    ).status_code == 204
    assert_error(await client.delete(f"{RESERVE}/{second['id']}", headers=user.headers), 404)
    committed = await client.post(
        f"{RESERVE}/{first['id']}/commit",
        headers=user.headers,
        json={"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5},
    )
    assert committed.status_code == 201, committed.text
    status = (await client.get("/api/v1/quotas", headers=user.headers)).json()
    assert status["requests_per_day"]["used"] == 1
    assert status["requests_per_day"]["reserved"] == 0
    assert status["requests_per_day"]["remaining"] == 1
    assert (await client.post(RESERVE, headers=user.headers, json={})).status_code == 201
    assert_error(await client.post(RESERVE, headers=user.headers, json={}), 429)


async def test_admin_limits_on_tokens_and_cost(client: httpx.AsyncClient, app: Any) -> None:
    boss = await make_admin(client, app)
    user = await signup(client)
    await set_quota(client, boss, user, tokens_per_month=1000, cost_per_month_usd="0.01")
    over = await client.post(RESERVE, headers=user.headers, json={"tokens": 1001})
    error = assert_error(over, 429, "quota_exceeded")
    assert error["details"]["limit"] == "tokens_per_month"
    assert error["details"]["resets_at"][8:10] == "01"  # the first of next month
    assert (
        await client.post(RESERVE, headers=user.headers, json={"tokens": 900})
    ).status_code == 201
    # Spend recorded directly counts against the cost limit.
    await client.post(
        "/api/v1/usage/events",
        headers=user.headers,
        json={"provider": "openai", "model": "gpt-4o", "input_tokens": 0, "output_tokens": 50},
    )
    costly = await client.post(RESERVE, headers=user.headers, json={"cost_usd": "0.01"})
    assert assert_error(costly, 429)["details"]["limit"] in (
        "cost_per_month_usd",
        "tokens_per_month",
    )
    # The admin sees the same standing, and can lift every limit.
    seen = await client.get(f"/api/v1/admin/users/{user.user['id']}/quota", headers=boss.headers)
    assert seen.json()["tokens_per_month"]["limit"] == 1000 and seen.json()["overridden"] is True
    await set_quota(client, boss, user, unlimited=True)
    lifted = await client.post(RESERVE, headers=user.headers, json={"tokens": 10**6})
    assert lifted.json()["unlimited"] is True
    assert_error(
        await client.patch(
            f"/api/v1/admin/users/{user.user['id']}",
            headers=boss.headers,
            json={"quota": {"requests_per_day": -1}},
        ),
        422,
    )
    assert_error(
        await client.get(f"/api/v1/admin/users/{user.user['id']}/quota", headers=user.headers), 403
    )


async def test_bad_reservations(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    for body in ({"tokens": -1}, {"cost_usd": "-0.5"}, {"tokens": "many"}, {"extra": 1}):
        assert_error(await client.post(RESERVE, headers=user.headers, json=body), 422)
    # JSON's own types: a numeric string or a boolean is not a token count.
    for tokens in ("12", "1e3", True, 1.5):
        error = assert_error(
            await client.post(RESERVE, headers=user.headers, json={"tokens": tokens}), 422
        )
        assert error["details"]["errors"][0]["loc"] == ["body", "tokens"], error
    assert_error(await client.delete(f"{RESERVE}/not-an-id", headers=user.headers), 422)

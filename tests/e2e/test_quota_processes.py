"""Quotas hold across two real server processes sharing one database (and Redis)."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.e2e.process import serve, server_env

pytestmark = pytest.mark.e2e
ALLOWANCE = 4
ATTEMPTS = 16


@pytest.fixture(params=["sqlite", "postgres-redis"])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = server_env(
        tmp_path / "data",
        secret_key="two-processes-share-this-secret-key-0123456789",
        quota_requests_per_day=ALLOWANCE,
    )
    if request.param == "postgres-redis":
        env["CONVOBASE_DATABASE_URL"] = request.getfixturevalue("clean_postgres_url")
        env["CONVOBASE_REDIS_URL"] = request.getfixturevalue("redis_url")
        env["CONVOBASE_REDIS_PREFIX"] = request.getfixturevalue("redis_prefix")
    return env


def test_two_processes_let_exactly_the_allowance_through(
    backend_env: dict[str, str], tmp_path: Path
) -> None:
    with ExitStack() as stack:
        first = stack.enter_context(serve(backend_env, tmp_path / "first.log"))
        second = stack.enter_context(serve(backend_env, tmp_path / "second.log"))
        signed = httpx.post(
            f"{first}/api/v1/auth/signup",
            json={"email": "quota@example.com", "password": "quota race pass"},
            timeout=10,
        )
        headers = {"Authorization": f"Bearer {signed.json()['session']['token']}"}

        async def race() -> list[int]:
            async with httpx.AsyncClient(timeout=30) as client:
                responses = await asyncio.gather(
                    *(
                        client.post(
                            f"{(first, second)[i % 2]}/api/v1/quotas/reservations",
                            headers=headers,
                            json={},
                        )
                        for i in range(ATTEMPTS)
                    )
                )
            return [r.status_code for r in responses]

        codes = asyncio.run(race())
        assert codes.count(201) == ALLOWANCE, codes
        assert codes.count(429) == ATTEMPTS - ALLOWANCE, codes
        status = httpx.get(f"{second}/api/v1/quotas", headers=headers, timeout=10).json()
        assert status["requests_per_day"]["reserved"] == ALLOWANCE

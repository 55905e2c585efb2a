"""PostgreSQL restarting under load: the real server answers 503 ``database_unavailable`` with
``Retry-After`` (OpenAI's shape on /v1) while the database is away, never a 500 or a dropped
connection, and serves again once it is back.

The database is a private cluster (tests/fixtures/private_postgres.py) that the test restarts
with ``pg_ctl restart -m fast`` and whose connections it cuts with ``pg_terminate_backend``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.process import serve, server_env
from tests.fixtures.private_postgres import PrivatePostgres
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WORKERS = 8
RECOVERY_SECONDS = 30


@dataclass
class Answer:
    method: str
    path: str
    status: int  # 0: the connection failed or was dropped
    headers: dict[str, str]
    body: Any


@dataclass
class Worker:
    email: str
    token: str
    conversation_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Answer:
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        return Answer(method, path, 0, {}, repr(exc))
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(method, path, response.status_code, dict(response.headers), body)


async def _round(client: httpx.AsyncClient, worker: Worker, n: int) -> list[Answer]:
    """Reads and writes: login, /auth/me, append a message, list conversations, /v1/models."""
    return [
        await _call(
            client,
            "POST",
            "/api/v1/auth/login",
            json={"email": worker.email, "password": PASSWORD},
        ),
        await _call(client, "GET", "/api/v1/auth/me", headers=worker.headers),
        await _call(
            client,
            "POST",
            f"/api/v1/conversations/{worker.conversation_id}/messages",
            headers=worker.headers,
            json={"role": "user", "content": f"message {n}"},
        ),
        await _call(client, "GET", "/api/v1/conversations?limit=5", headers=worker.headers),
        await _call(client, "GET", "/v1/models", headers=worker.headers),
    ]


async def _new_worker(client: httpx.AsyncClient, n: int) -> Worker:
    email = f"restart-{n}@example.com"
    signed = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    token = signed.json()["session"]["token"]
    conversation = await client.post(
        "/api/v1/conversations", headers={"Authorization": f"Bearer {token}"}, json={}
    )
    assert conversation.status_code == 201, conversation.text
    return Worker(email, token, conversation.json()["id"])


async def _recovered(client: httpx.AsyncClient, worker: Worker, answers: list[Answer]) -> None:
    """Wait until one whole round succeeds again."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    for n in itertools.count():
        round_answers = await _round(client, worker, n)
        answers.extend(round_answers)
        if all(200 <= a.status < 300 for a in round_answers):
            return
        assert time.monotonic() < deadline, f"no recovery: {round_answers}"
        await asyncio.sleep(0.1)


async def _drive(base: str, database: PrivatePostgres) -> list[Answer]:
    answers: list[Answer] = []
    stop = asyncio.Event()
    timeout = httpx.Timeout(60)
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
        workers = [await _new_worker(client, n) for n in range(WORKERS)]

        async def loop(worker: Worker) -> None:
            for n in itertools.count():
                if stop.is_set():
                    return
                answers.extend(await _round(client, worker, n))

        load = [asyncio.create_task(loop(w)) for w in workers]
        probe = await _new_worker(client, WORKERS)
        try:
            await _recovered(client, probe, answers)  # the load is running
            await asyncio.to_thread(database.restart)
            await _recovered(client, probe, answers)
            # Cut the connections until some request in flight has lost its own (a loaded
            # machine may need more than one try); at most a few seconds.
            seen = len(answers)
            for _ in range(60):
                await database.terminate_backends()
                await asyncio.sleep(0.05)
                if any(a.status == 503 for a in answers[seen:]):
                    break
            await _recovered(client, probe, answers)
        finally:
            stop.set()
            await asyncio.gather(*load)
    return answers


def _assert_unavailable(answer: Answer) -> None:
    assert int(answer.headers["retry-after"]) >= 1, answer
    error = answer.body["error"]
    if answer.path.startswith("/v1/"):
        assert error["type"] == "api_error", answer
        assert error["code"] == "database_unavailable", answer
        assert set(error) == {"message", "type", "param", "code"}, answer
    else:
        assert error["code"] == "database_unavailable", answer
        assert set(error) == {"code", "message", "details"}, answer


def test_postgres_restart_and_cut_connections_are_503_never_500(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    env = server_env(
        tmp_path / "data",
        database_url=private_postgres.url,
        database_pool_size=4,
        login_ip_attempts=1_000_000,
    )
    log = tmp_path / "server.log"
    with serve(env, log) as base:
        answers = asyncio.run(_drive(base, private_postgres))

    broken = [a for a in answers if a.status == 0 or (a.status >= 500 and a.status != 503)]
    assert broken == [], broken[:5]
    unavailable = [a for a in answers if a.status == 503]
    for answer in unavailable:
        _assert_unavailable(answer)
    assert unavailable, "the outage was never seen: the test proved nothing"
    assert all(a.status < 400 or a.status == 503 for a in answers), [
        a for a in answers if 400 <= a.status < 500
    ][:5]
    assert "unhandled_error" not in log.read_text()

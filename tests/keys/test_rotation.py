"""Rotating the server secret: old keys stay readable, `convobase keys rotate` re-encrypts them.

On SQLite, as the operator would: the app restarts with a new secret and the old one in
CONVOBASE_PREVIOUS_SECRET_KEYS, then the command runs (in-process, with Typer's runner) while
the app still serves.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from convobase.app import create_app
from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep
from convobase.cli import app as cli
from convobase.config import Settings
from convobase.db.session import DbSession
from convobase.keys import service
from convobase.keys.crypto import derive
from convobase.models import ProviderKey
from tests.conftest import make_settings
from tests.helpers import Account, assert_error, signup

SECRET_A = "secret-A-" + "a" * 40
SECRET_B = "secret-B-" + "b" * 40
SECRET_C = "secret-C-" + "c" * 40
VERSION_A, VERSION_B = derive(SECRET_A.encode()).version, derive(SECRET_B.encode()).version
KEYS = {f"provider-{i}": f"sk-rotation-test-{i}-{uuid.uuid4().hex}" for i in range(5)}

runner = CliRunner()


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    application = create_app(settings)

    # What the gateway does: the user's own key, or a 503 when it cannot be decrypted.
    @application.get("/test/vault/{provider}")
    async def vault(
        provider: str, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
    ) -> dict[str, str | None]:
        return {"key": await service.user_key(db, runtime.settings, principal.user.id, provider)}

    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client


async def _keys(client: httpx.AsyncClient, account: Account) -> dict[str, str | None]:
    out = {}
    for provider in KEYS:
        response = await client.get(f"/test/vault/{provider}", headers=account.headers)
        assert response.status_code == 200, response.text
        out[provider] = response.json()["key"]
    return out


async def _versions(application: Any) -> set[str]:
    async with application.state.runtime.database.session(write=False) as db:
        return set((await db.execute(select(ProviderKey.key_version))).scalars())


def _settings(tmp_path: Path, url: str, secret: str, previous: list[str]) -> Settings:
    return make_settings(
        tmp_path, database_url=url, secret_key=secret, previous_secret_keys=previous
    )


def _rotate(monkeypatch: pytest.MonkeyPatch, url: str, secret: str, previous: list[str]) -> Any:
    for key in list(os.environ):
        if key.startswith("CONVOBASE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", url)
    monkeypatch.setenv("CONVOBASE_SECRET_KEY", secret)
    monkeypatch.setenv("CONVOBASE_PREVIOUS_SECRET_KEYS", json.dumps(previous))
    monkeypatch.setenv("COLUMNS", "250")
    return runner.invoke(cli, ["keys", "rotate", "--batch-size", "2"])


def test_rotation(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def store_under_a() -> list[Account]:
        async with serving(_settings(tmp_path, sqlite_url, SECRET_A, [])) as (application, client):
            alice, bob = await signup(client), await signup(client)
            for account in (alice, bob):
                for provider, key in KEYS.items():
                    response = await client.put(
                        f"/api/v1/provider-keys/{provider}",
                        headers=account.headers,
                        json={"api_key": key + account.email},
                    )
                    assert response.status_code == 200
                    assert response.json()["key_version"] == VERSION_A
            assert await _versions(application) == {VERSION_A}
            return [alice, bob]

    accounts = asyncio.run(store_under_a())
    expected = {a.email: {p: k + a.email for p, k in KEYS.items()} for a in accounts}

    async def new_secret_alone_cannot_decrypt() -> None:
        async with serving(_settings(tmp_path, sqlite_url, SECRET_B, [])) as (_, client):
            response = await client.get("/test/vault/provider-0", headers=accounts[0].headers)
            error = assert_error(response, 503, "vault_unavailable")
            assert error["details"] == {"provider": "provider-0", "reason": "unknown_key_version"}
            assert "CONVOBASE_PREVIOUS_SECRET_KEYS" in error["message"]
            # Metadata still lists; a new PUT replaces the unreadable key.
            listed = await client.get("/api/v1/provider-keys", headers=accounts[0].headers)
            assert len(listed.json()["data"]) == len(KEYS)

    asyncio.run(new_secret_alone_cannot_decrypt())

    # Rotation while serving: B current, A previous; every key decrypts before, during, after.
    async def rotate_while_serving() -> None:
        settings = _settings(tmp_path, sqlite_url, SECRET_B, [SECRET_A])
        async with serving(settings) as (application, client):
            for account in accounts:
                assert await _keys(client, account) == expected[account.email]
            # A key written now is sealed under B already.
            replaced = await client.put(
                "/api/v1/provider-keys/provider-0",
                headers=accounts[0].headers,
                json={"api_key": KEYS["provider-0"] + accounts[0].email},
            )
            assert replaced.json()["key_version"] == VERSION_B
            assert await _versions(application) == {VERSION_A, VERSION_B}

            result = await asyncio.to_thread(_rotate, monkeypatch, sqlite_url, SECRET_B, [SECRET_A])
            assert result.exit_code == 0, result.output
            assert "Re-encrypted 9 provider keys" in result.output
            assert not any(k[:12] in result.output for k in KEYS.values())

            assert await _versions(application) == {VERSION_B}
            for account in accounts:
                assert await _keys(client, account) == expected[account.email]

    asyncio.run(rotate_while_serving())

    # Nothing left to do; then the old secret can go.
    result = _rotate(monkeypatch, sqlite_url, SECRET_B, [SECRET_A])
    assert result.exit_code == 0 and "Re-encrypted 0 provider keys" in result.output

    async def new_secret_alone() -> None:
        async with serving(_settings(tmp_path, sqlite_url, SECRET_B, [])) as (application, client):
            assert await _versions(application) == {VERSION_B}
            for account in accounts:
                assert await _keys(client, account) == expected[account.email]
                listed = await client.get("/api/v1/provider-keys", headers=account.headers)
                assert {k["key_version"] for k in listed.json()["data"]} == {VERSION_B}

    asyncio.run(new_secret_alone())

    # Rotating to C without B among the previous secrets: nothing can be re-encrypted; the rows
    # are left as they were (B still opens them) and the command says so.
    result = _rotate(monkeypatch, sqlite_url, SECRET_C, [])
    assert result.exit_code == 1
    assert "Re-encrypted 0 provider keys" in result.output
    assert "10 provider keys could not be decrypted" in result.output
    asyncio.run(new_secret_alone())


def test_rotate_has_help() -> None:
    result = runner.invoke(cli, ["keys", "rotate", "--help"])
    assert result.exit_code == 0 and "CONVOBASE_PREVIOUS_SECRET_KEYS" in result.output
    result = runner.invoke(cli, ["keys", "--help"])
    assert result.exit_code == 0 and "rotate" in result.output

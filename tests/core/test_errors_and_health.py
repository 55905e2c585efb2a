"""The error shape everywhere, X-Request-ID, body limits, /healthz and /readyz."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from convobase.app import create_app
from tests.conftest import make_settings
from tests.helpers import assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    error = assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in error["message"]
    assert_error(await client.put("/api/v1/auth/login", json={}), 405, "method_not_allowed")


async def test_request_id_is_generated_or_echoed(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"})
    assert hostile.headers["x-request-id"] != "bad id\twith junk"


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    big = b'{"email": "' + b"a" * 2_000_000 + b'"}'
    response = await client.post(
        "/api/v1/auth/signup", content=big, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")

    async def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        for _ in range(40):
            yield b"a" * 65536

    streamed = await client.post(
        "/api/v1/auth/signup", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(streamed, 413, "payload_too_large")


async def test_wrong_content_type_is_a_clear_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b"email=a&password=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


async def _ready_status(app: FastAPI) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/readyz")


async def test_ready_is_503_when_redis_is_down(tmp_path: Path, sqlite_url: str) -> None:
    app = create_app(
        make_settings(tmp_path, database_url=sqlite_url, redis_url="redis://127.0.0.1:1/0")
    )
    error = assert_error(await _ready_status(app), 503, "not_ready")
    assert error["details"]["checks"] == {
        "database": "ok",
        "storage": "ok",
        "redis": "unavailable",
    }


async def test_file_storage_outage_is_503(tmp_path: Path, sqlite_url: str) -> None:
    # An S3 endpoint where nothing listens: readiness says so, and uploads are a 503, not a 500.
    app = create_app(
        make_settings(
            tmp_path,
            database_url=sqlite_url,
            storage_backend="s3",
            s3_endpoint="http://127.0.0.1:1",
            s3_bucket="nowhere",
            s3_access_key_id="key",
            s3_secret_access_key="secret",
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            error = assert_error(await c.get("/readyz"), 503, "not_ready")
            assert error["details"]["checks"]["storage"] == "unavailable"
            signup = await c.post(
                "/api/v1/auth/signup",
                json={"email": "files@example.com", "password": "x" * 12},
            )
            token = signup.json()["session"]["token"]
            response = await c.post(
                "/api/v1/files",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": ("a.txt", b"hello\n")},
            )
    assert_error(response, 503, "storage_unavailable")
    assert list((tmp_path / "data" / "tmp").glob("*")) == []


async def test_ready_is_503_when_database_is_down(tmp_path: Path) -> None:
    app = create_app(
        make_settings(tmp_path, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    )
    error = assert_error(await _ready_status(app), 503, "not_ready")
    assert error["details"]["checks"]["database"] == "unavailable"


async def test_database_outage_is_503_not_500(tmp_path: Path) -> None:
    app = create_app(
        make_settings(tmp_path, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            response = await c.post(
                "/api/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12}
            )
    assert_error(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "1"


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/auth/signup" in spec["paths"]


async def test_nul_characters_never_500(client: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store U+0000 in text or JSON: a clear 422 there, stored on SQLite,
    never a 500; the rest of the account is untouched either way."""
    user = await signup(client)
    kept = await new_conversation(client, user, title="kept")
    attempts = [
        ("POST", "/api/v1/conversations", {"title": "a\u0000b"}),
        ("POST", f"/api/v1/conversations/{kept['id']}/messages", {"content": "x\u0000y"}),
        ("PATCH", f"/api/v1/conversations/{kept['id']}", {"settings": {"k": "\u0000"}}),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, headers=user.headers, json=body)
        assert response.status_code in (200, 201, 422), response.text
        if response.status_code == 422:
            assert response.json()["error"]["code"] in ("invalid_characters", "validation_error")
    again = await client.get(f"/api/v1/conversations/{kept['id']}", headers=user.headers)
    assert again.status_code == 200


async def test_database_errors_never_carry_the_values(sqlite_url: str) -> None:
    """A failed statement's text (what an unexpected error logs) holds no bound values."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from convobase.db.engine import Database

    database = Database(sqlite_url)
    try:
        async with database.session() as db:
            with pytest.raises(DBAPIError) as caught:
                await db.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "s3cret"})
        assert "s3cret" not in str(caught.value)
    finally:
        await database.dispose()

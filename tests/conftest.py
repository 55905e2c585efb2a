"""Shared fixtures: engines (SQLite and PostgreSQL), Redis, settings, the app and a client.

Database tests run once per engine through the ``settings`` fixture's parameters:
``sqlite`` (sql sessions, in-process limits), ``postgres`` (sql sessions) and
``postgres-redis`` (Redis sessions and limits). Every test starts from a clean database:
SQLite copies a migrated template file, PostgreSQL truncates this run's database.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from convobase.app import create_app
from convobase.config import Settings
from convobase.db.migrate import upgrade
from convobase.models import Base
from tests.fixtures import servers

pytest_plugins = ["tests.fixtures.private_postgres", "tests.fixtures.s3", "tests.fixtures.upstream"]

TEST_SECRET = "test-secret-" + "x" * 40
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    servers.blocking(upgrade, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with servers.pg_database() as url:
        servers.blocking(upgrade, url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        servers.check_redis()
    except servers.REDIS_DOWN as exc:
        servers.unavailable(f"Redis at {servers.REDIS_URL}", exc)
    return servers.REDIS_URL


async def truncate_postgres(url: str) -> None:
    engine = create_async_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "convobase.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


# Infrastructure fixtures stay synchronous (their async work runs in a thread of its own), so
# async fixtures can request them with getfixturevalue while an event loop is running.
@pytest.fixture
def clean_postgres_url(postgres_url: str) -> str:
    servers.blocking(asyncio.run, truncate_postgres(postgres_url))
    return postgres_url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"cbtest:{servers.RUN_ID}:{uuid.uuid4().hex[:8]}:"
    yield prefix
    servers.blocking(asyncio.run, servers.delete_redis_prefix(prefix))


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "secret_key": TEST_SECRET,
        "access_log": False,
        "log_level": "warning",
        **FAST_ARGON2,
    }
    values.update(overrides)
    return Settings(**values)


ENGINES = ["sqlite", "postgres", "postgres-redis"]


@pytest.fixture(params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a module or test to tune settings for the app under test."""
    return {}


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    engine_kind: str,
    tmp_path: Path,
    settings_overrides: dict[str, Any],
) -> Settings:
    if engine_kind == "sqlite":
        url = request.getfixturevalue("sqlite_url")
        return make_settings(tmp_path, database_url=url, **settings_overrides)
    url = request.getfixturevalue("clean_postgres_url")
    extra: dict[str, Any] = {}
    if engine_kind == "postgres-redis":
        extra = {
            "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    return make_settings(tmp_path, database_url=url, **extra, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c

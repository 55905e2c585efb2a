"""Helpers for the account life-cycle tests: guests, and direct looks into the database."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from convobase.models import Base
from tests.helpers import Account


async def start_guest(client: httpx.AsyncClient, **headers: str) -> Account:
    response = await client.post("/api/v1/auth/guest", headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        email=body["user"]["email"],
        password="",
        token=body["session"]["token"],
        user=body["user"],
        session=body["session"],
    )


async def rows_of(app: Any, user_id: str | uuid.UUID) -> dict[str, int]:
    """How many rows of each table carry ``user_id`` in a column named user_id."""
    uid = uuid.UUID(str(user_id))
    counts: dict[str, int] = {}
    async with app.state.runtime.database.session(write=False) as db:
        for table in Base.metadata.sorted_tables:
            if "user_id" in table.c:
                n = await db.scalar(
                    select(func.count()).select_from(table).where(table.c.user_id == uid)
                )
                if n:
                    counts[table.name] = int(n or 0)
    return counts


async def user_exists(app: Any, user_id: str | uuid.UUID) -> bool:
    from convobase.models import User

    async with app.state.runtime.database.session(write=False) as db:
        return await db.get(User, uuid.UUID(str(user_id))) is not None


async def run_cli(settings: Any, monkeypatch: Any, *args: str) -> Any:
    """``convobase ARGS`` in-process against the app's database, storage and Redis (a thread
    of its own, since the command runs its own event loop)."""
    import asyncio
    import os

    from typer.testing import CliRunner

    from convobase.cli import app as cli

    for key in list(os.environ):
        if key.startswith("CONVOBASE_"):
            monkeypatch.delenv(key)
    env = {
        "CONVOBASE_ENV": "test",
        "CONVOBASE_DATABASE_URL": settings.database_url,
        "CONVOBASE_DATA_DIR": str(settings.data_dir),
        "CONVOBASE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "CONVOBASE_GUEST_IDLE_HOURS": str(settings.guest_idle_hours),
    }
    if settings.redis_url:
        env |= {
            "CONVOBASE_REDIS_URL": settings.redis_url,
            "CONVOBASE_REDIS_PREFIX": settings.redis_prefix,
        }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))

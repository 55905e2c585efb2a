"""`convobase prune`: guests idle past guest_idle_hours go, by the account deletion path."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from convobase.accounts.guests import prune
from convobase.db.base import utcnow
from convobase.models import User
from tests.accounts.conftest import rows_of, run_cli, start_guest, user_exists
from tests.accounts.test_deletion import blob_stored
from tests.helpers import Account, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"session_touch_seconds": 0}  # every request records a guest's activity


async def idle_since(app: Any, who: Account, hours: float) -> None:
    async with app.state.runtime.database.session() as db:
        await db.execute(
            update(User)
            .where(User.id == uuid.UUID(who.user["id"]))
            .values(last_active_at=utcnow() - timedelta(hours=hours))
        )
        await db.commit()


async def busy_guest(client: httpx.AsyncClient) -> tuple[Account, str]:
    guest = await start_guest(client)
    await new_conversation(client, guest, title="left behind")
    data = base64.b64encode(f"guest file {uuid.uuid4()}\n".encode()).decode()
    file = await client.post(
        "/api/v1/files", headers=guest.headers, json={"filename": "g.txt", "data_base64": data}
    )
    assert file.status_code == 201, file.text
    return guest, str(file.json()["sha256"])


async def test_prune_deletes_idle_guests_only(
    client: httpx.AsyncClient, app: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle_hours = settings.guest_idle_hours
    idle, idle_blob = await busy_guest(client)
    recent, _ = await busy_guest(client)
    account = await signup(client)
    await idle_since(app, idle, idle_hours + 1)
    await idle_since(app, recent, idle_hours - 1)
    await idle_since(app, account, idle_hours * 10)  # only guests are ever pruned

    result = await run_cli(settings, monkeypatch, "prune")
    assert result.exit_code == 0, result.output
    assert "Pruned 1 idle guests" in result.output
    assert not await user_exists(app, idle.user["id"])
    assert await rows_of(app, idle.user["id"]) == {}
    assert not await blob_stored(app, idle_blob)
    assert (await client.get("/api/v1/auth/me", headers=idle.headers)).status_code == 401
    assert await user_exists(app, recent.user["id"])
    assert (await rows_of(app, recent.user["id"]))["conversations"] == 1
    assert (await client.get("/api/v1/auth/me", headers=account.headers)).status_code == 200

    again = await run_cli(settings, monkeypatch, "prune")
    assert again.exit_code == 0 and "Pruned 0 idle guests" in again.output


async def test_activity_keeps_a_guest(client: httpx.AsyncClient, app: Any) -> None:
    guest = await start_guest(client)
    await idle_since(app, guest, app.state.runtime.settings.guest_idle_hours + 1)
    assert (await client.get("/api/v1/conversations", headers=guest.headers)).status_code == 200
    report = await prune(app.state.runtime)
    assert report.guests == 0
    assert await user_exists(app, guest.user["id"])


async def test_prune_works_in_batches(client: httpx.AsyncClient, app: Any) -> None:
    guests = [await start_guest(client) for _ in range(5)]
    for guest in guests:
        await idle_since(app, guest, app.state.runtime.settings.guest_idle_hours * 2)
    report = await prune(app.state.runtime, batch=2)
    assert report.guests == 5
    assert not any([await user_exists(app, g.user["id"]) for g in guests])

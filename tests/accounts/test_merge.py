"""A guest who signs up or logs in keeps everything: one transaction, and the guest is gone."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from convobase.accounts import repository as accounts_repository
from convobase.backends.quotas import Amount, Limits
from convobase.db.base import utcnow
from convobase.models import Share, UsageDaily, UsageLatencyDaily, UsageUserPeriod
from convobase.models.usage import SYSTEM_ID
from tests.accounts.conftest import rows_of, start_guest, user_exists
from tests.helpers import PASSWORD, Account, append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")

MERGE_PATCH = {"content-type": "application/merge-patch+json"}
ORIGIN = {"Origin": "http://testserver"}


async def usage(client: httpx.AsyncClient, who: Account, tokens: int, latency: int) -> None:
    response = await client.post(
        "/api/v1/usage/events",
        headers=who.headers,
        json={
            "provider": "openai",
            "model": "gpt-4o-mini",
            "input_tokens": tokens,
            "output_tokens": tokens,
            "latency_ms": latency,
        },
    )
    assert response.status_code == 201, response.text


async def guest_with_things(client: httpx.AsyncClient) -> tuple[Account, dict[str, str]]:
    guest = await start_guest(client)
    conversation = await new_conversation(client, guest, title="guest chat", tags=["g"])
    cid = conversation["id"]
    first = await append(client, guest, cid, "remember the walrus")
    await append(client, guest, cid, "the answer", role="assistant", parent_id=first["id"])
    run = await client.post(
        f"/api/v1/conversations/{cid}/tool-runs", headers=guest.headers, json={"name": "t"}
    )
    log = await client.post(
        f"/api/v1/conversations/{cid}/logs",
        headers=guest.headers,
        json={"level": "info", "type": "step", "message": "m"},
    )
    file = await client.post(
        "/api/v1/files",
        headers=guest.headers,
        json={"filename": "notes.txt", "data_base64": "Z3Vlc3QK", "conversation_id": cid},
    )
    feedback = await client.post(
        f"/api/v1/conversations/{cid}/messages/{first['id']}/feedback",
        headers=guest.headers,
        json={"rating": "up"},
    )
    for response in (run, log, file, feedback):
        assert response.status_code in (200, 201), response.text
    ids = {"conversation": cid, "message": first["id"], "file": file.json()["id"]}
    return guest, ids


async def assert_account_has_guest_things(
    client: httpx.AsyncClient, app: Any, account: Account, guest: Account, ids: dict[str, str]
) -> None:
    cid = ids["conversation"]
    conversation = await client.get(f"/api/v1/conversations/{cid}", headers=account.headers)
    assert conversation.status_code == 200, conversation.text
    assert conversation.json()["title"] == "guest chat"
    messages = (
        await client.get(f"/api/v1/conversations/{cid}/messages", headers=account.headers)
    ).json()["data"]
    assert [m["content"] for m in messages] == ["remember the walrus", "the answer"]
    runs = await client.get(f"/api/v1/conversations/{cid}/tool-runs", headers=account.headers)
    assert len(runs.json()["data"]) == 1
    logs = await client.get(f"/api/v1/conversations/{cid}/logs", headers=account.headers)
    assert len(logs.json()["data"]) == 1
    file = await client.get(f"/api/v1/files/{ids['file']}", headers=account.headers)
    assert file.status_code == 200
    content = await client.get(f"/api/v1/files/{ids['file']}/content", headers=account.headers)
    assert content.content == b"guest\n"
    # Search follows the documents' owner.
    hits = await client.get("/api/v1/search", params={"q": "walrus"}, headers=account.headers)
    assert [h["conversation_id"] for h in hits.json()["data"]] == [cid]
    # The guest is gone: its row, everything keyed by it, and its session.
    assert not await user_exists(app, guest.user["id"])
    assert await rows_of(app, guest.user["id"]) == {}
    assert_error(await client.get("/api/v1/auth/me", headers=guest.headers), 401, "invalid_token")


async def test_sign_up_with_a_bearer_guest_session(client: httpx.AsyncClient, app: Any) -> None:
    guest, ids = await guest_with_things(client)
    await usage(client, guest, 10, 100)
    prefs = await client.patch(
        "/api/v1/preferences", headers={**guest.headers, **MERGE_PATCH}, json={"theme": "dark"}
    )
    assert prefs.status_code == 200, prefs.text
    client.cookies.clear()
    response = await client.post(
        "/api/v1/auth/signup",
        headers=guest.headers,
        json={"email": "newcomer@example.com", "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["role"] == "user" and body["user"]["id"] != guest.user["id"]
    account = Account("newcomer@example.com", PASSWORD, body["session"]["token"], body["user"], {})
    await assert_account_has_guest_things(client, app, account, guest, ids)
    # An account without preferences takes the guest's.
    mine = await client.get("/api/v1/preferences", headers=account.headers)
    assert mine.json()["preferences"]["theme"] == "dark"
    summary = await client.get("/api/v1/usage/summary", headers=account.headers)
    assert summary.json()["totals"]["requests"] == 1


async def test_login_with_a_cookie_guest_session(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client, "old@example.com")
    await client.patch(
        "/api/v1/preferences", headers={**account.headers, **MERGE_PATCH}, json={"theme": "light"}
    )
    client.cookies.clear()
    guest, ids = await guest_with_things(client)  # sets the guest's cookie
    await client.patch(
        "/api/v1/preferences",
        headers={**guest.headers, **MERGE_PATCH},
        json={"theme": "dark", "font_size": 20},
    )
    assert client.cookies.get("convobase_session") == guest.token
    response = await client.post(
        "/api/v1/auth/login",
        headers=ORIGIN,  # a cookie-authenticated write: same origin (CSRF)
        json={"email": account.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == account.user["id"]
    await assert_account_has_guest_things(client, app, account, guest, ids)
    # The account's own preferences win, whole (never mixed with the guest's).
    prefs = (await client.get("/api/v1/preferences", headers=account.headers)).json()
    assert prefs["preferences"]["theme"] == "light"
    assert prefs["preferences"]["font_size"] == 16


async def test_a_cross_site_login_does_not_merge(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    client.cookies.clear()
    guest = await start_guest(client)
    response = await client.post(
        "/api/v1/auth/login",
        headers={"Origin": "https://evil.example"},
        json={"email": account.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    assert await user_exists(app, guest.user["id"])
    assert (await client.get("/api/v1/auth/me", headers=guest.headers)).status_code == 200


async def test_rollups_are_added_into_the_accounts(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    await usage(client, account, 100, 50)
    await usage(client, account, 200, 70)
    guest = await start_guest(client)
    await usage(client, guest, 1000, 300)
    response = await client.post(
        "/api/v1/auth/login",
        headers=guest.headers,
        json={"email": account.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    uid = uuid.UUID(account.user["id"])
    async with app.state.runtime.database.session(write=False) as db:
        [daily] = (await db.execute(select(UsageDaily).where(UsageDaily.user_id == uid))).scalars()
        assert (daily.requests, daily.input_tokens, daily.output_tokens) == (3, 1300, 1300)
        assert (daily.latency_ms_sum, daily.latency_count) == (420, 3)
        periods = {
            p.kind: p
            for p in (
                await db.execute(select(UsageUserPeriod).where(UsageUserPeriod.user_id == uid))
            ).scalars()
        }
        assert set(periods) == {"d", "m"}
        assert all(p.requests == 3 and p.tokens == 2600 for p in periods.values())
        buckets = await db.scalar(
            select(func.sum(UsageLatencyDaily.count)).where(UsageLatencyDaily.user_id == uid)
        )
        assert buckets == 3
        # The whole system's rows count each event once, as before.
        system = await db.scalar(
            select(func.sum(UsageDaily.requests)).where(UsageDaily.user_id == SYSTEM_ID)
        )
        assert system == 3
    summary = (await client.get("/api/v1/usage/summary", headers=account.headers)).json()
    assert summary["totals"]["requests"] == 3
    assert summary["totals"]["total_tokens"] == 2600
    events = (await client.get("/api/v1/usage/events", headers=account.headers)).json()["data"]
    assert len(events) == 3


async def test_quota_reservations_and_counters_follow(client: httpx.AsyncClient, app: Any) -> None:
    runtime = app.state.runtime
    account = await signup(client)
    await usage(client, account, 1, 1)
    guest = await start_guest(client)
    await usage(client, guest, 1, 1)
    now = utcnow()
    # Seed the account's counters (Redis store), then hold allowance for the guest.
    assert (
        await runtime.quotas.standing(uuid.UUID(account.user["id"]), now)
    ).used.requests_today == 1
    held = await runtime.quotas.reserve(
        uuid.UUID(guest.user["id"]), Limits(), Amount(requests=1), now, timedelta(minutes=5)
    )
    assert not hasattr(held, "limit")
    response = await client.post(
        "/api/v1/auth/login",
        headers=guest.headers,
        json={"email": account.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    standing = await runtime.quotas.standing(uuid.UUID(account.user["id"]), utcnow())
    assert standing.used.requests_today == 2
    assert standing.reserved.requests_today == 1
    gone = await runtime.quotas.standing(uuid.UUID(guest.user["id"]), utcnow())
    assert gone.used.requests_today == 0 and gone.reserved.requests_today == 0


async def test_library_file_versions_continue(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    for who in (account, account):
        response = await client.post(
            "/api/v1/files",
            headers=who.headers,
            json={"filename": "cv.txt", "data_base64": "djEK"},
        )
        assert response.status_code == 201
    guest = await start_guest(client)
    upload = await client.post(
        "/api/v1/files", headers=guest.headers, json={"filename": "cv.txt", "data_base64": "djMK"}
    )
    assert upload.json()["version"] == 1
    await client.post(
        "/api/v1/auth/login",
        headers=guest.headers,
        json={"email": account.email, "password": PASSWORD},
    )
    moved = await client.get(f"/api/v1/files/{upload.json()['id']}", headers=account.headers)
    assert moved.json()["version"] == 3
    versions = await client.get(
        f"/api/v1/files/{upload.json()['id']}/versions", headers=account.headers
    )
    assert [v["version"] for v in versions.json()["data"]] == [1, 2, 3]


async def test_shares_follow(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    own = await new_conversation(client, account, title="account's")
    guest = await start_guest(client)
    chat = await new_conversation(client, guest, title="guest's")
    gid, uid = uuid.UUID(guest.user["id"]), uuid.UUID(account.user["id"])
    async with app.state.runtime.database.session() as db:
        # The guest shared its chat by link; the account had shared its own with the guest.
        db.add(Share(conversation_id=uuid.UUID(chat["id"]), user_id=gid, kind="link"))
        db.add(
            Share(conversation_id=uuid.UUID(own["id"]), user_id=uid, kind="user", recipient_id=gid)
        )
        await db.commit()
    await client.post(
        "/api/v1/auth/login",
        headers=guest.headers,
        json={"email": account.email, "password": PASSWORD},
    )
    async with app.state.runtime.database.session(write=False) as db:
        shares = list((await db.execute(select(Share))).scalars())
    # The link now belongs to the account; a share with oneself makes no sense and is gone.
    assert [(s.conversation_id, s.user_id) for s in shares] == [(uuid.UUID(chat["id"]), uid)]


async def test_a_failed_merge_leaves_both_untouched(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await signup(client)
    await usage(client, account, 5, 5)
    guest, ids = await guest_with_things(client)
    await usage(client, guest, 7, 7)
    before = await rows_of(app, account.user["id"]), await rows_of(app, guest.user["id"])
    real = accounts_repository.sum_rollups

    async def failing(*args: Any) -> None:
        await real(*args)  # half way through: rows already moved in the transaction
        raise RuntimeError("injected failure")

    monkeypatch.setattr(accounts_repository, "sum_rollups", failing)
    response = await client.post(
        "/api/v1/auth/login",
        headers=guest.headers,
        json={"email": account.email, "password": PASSWORD},
    )
    assert_error(response, 500)
    after = await rows_of(app, account.user["id"]), await rows_of(app, guest.user["id"])
    assert after == before
    # The guest still works (its session survived, Redis store included) and owns its chat.
    chat = await client.get(f"/api/v1/conversations/{ids['conversation']}", headers=guest.headers)
    assert chat.status_code == 200
    assert (
        await client.get(f"/api/v1/conversations/{ids['conversation']}", headers=account.headers)
    ).status_code == 404

"""Account deletion: by the user (password, or a recent sign-in without one) and by an admin.
Everything they own goes, blobs once unreferenced, sessions and keys at once; usage stays,
anonymised."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from convobase.accounts import service as accounts_service
from convobase.auth.tokens import token_hash
from convobase.db.base import utcnow
from convobase.files.repository import blob_key
from convobase.models import Blob, Share, UsageDaily, UsageEvent, UsageUserPeriod, User
from convobase.models.usage import SYSTEM_ID
from tests.accounts.conftest import rows_of, run_cli, start_guest, user_exists
from tests.helpers import (
    PASSWORD,
    Account,
    append,
    assert_error,
    make_admin,
    new_conversation,
    signup,
)

pytestmark = pytest.mark.usefixtures("app")

ME = "/api/v1/auth/me"


async def upload(client: httpx.AsyncClient, who: Account, name: str, data: bytes) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/files",
        headers=who.headers,
        json={"filename": name, "data_base64": base64.b64encode(data).decode()},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def blob_stored(app: Any, sha256: str) -> bool:
    runtime = app.state.runtime
    async with runtime.database.session(write=False) as db:
        row = await db.get(Blob, sha256)
    return row is not None and await runtime.storage.size(blob_key(sha256)) is not None


async def populated(client: httpx.AsyncClient) -> tuple[Account, dict[str, Any]]:
    """A user with a chat, files (one blob of their own, one shared), a key, usage."""
    user = await signup(client)
    conversation = await new_conversation(client, user, title="mine")
    message = await append(client, user, conversation["id"], "hello")
    only_mine = await upload(client, user, "a.txt", f"only mine {uuid.uuid4()}\n".encode())
    shared = await upload(client, user, "b.txt", b"also someone else's")
    key = await client.post("/api/v1/api-keys", headers=user.headers, json={"name": "k"})
    assert key.status_code == 201
    event = await client.post(
        "/api/v1/usage/events",
        headers=user.headers,
        json={
            "provider": "openai",
            "model": "gpt-4o-mini",
            "input_tokens": 10,
            "output_tokens": 5,
            "conversation_id": conversation["id"],
            "message_id": message["id"],
            "metadata": {"email": user.email},
        },
    )
    assert event.status_code == 201, event.text
    return user, {
        "conversation": conversation,
        "only_mine": only_mine["sha256"],
        "shared": shared["sha256"],
        "api_key": key.json()["key"],
    }


async def assert_gone(
    client: httpx.AsyncClient, app: Any, user: Account, things: dict[str, Any]
) -> None:
    uid = uuid.UUID(user.user["id"])
    assert not await user_exists(app, uid)
    assert await rows_of(app, uid) == {}
    # Sessions and API keys stop working at once, in whichever session store.
    assert_error(await client.get(ME, headers=user.headers), 401, "invalid_token")
    api_key = {"Authorization": f"Bearer {things['api_key']}"}
    assert_error(await client.get(ME, headers=api_key), 401, "invalid_token")
    runtime = app.state.runtime
    async with runtime.database.session(write=False) as db:
        store = runtime.session_store(db)
        assert await store.get_by_token_hash(token_hash(user.token), utcnow()) is None
        assert await store.list_for_user(uid, utcnow()) == []
        # Usage kept for billing, under a random id, with nothing pointing back.
        [event] = (await db.execute(select(UsageEvent))).scalars().all()[-1:]
        assert event.user_id != uid and event.input_tokens == 10
        assert event.conversation_id is None and event.message_id is None and event.meta == {}
        daily = await db.scalar(
            select(func.sum(UsageDaily.requests)).where(UsageDaily.user_id == event.user_id)
        )
        periods = await db.scalar(
            select(func.count()).where(UsageUserPeriod.user_id == event.user_id)
        )
        system = await db.scalar(
            select(func.sum(UsageDaily.requests)).where(UsageDaily.user_id == SYSTEM_ID)
        )
        events = await db.scalar(select(func.count()).select_from(UsageEvent))
        assert (daily, periods, system) == (1, 2, events)
    assert not await blob_stored(app, things["only_mine"])


async def test_delete_me_with_password(client: httpx.AsyncClient, app: Any) -> None:
    other = await signup(client)
    kept = await upload(client, other, "b.txt", b"also someone else's")
    other_chat = await new_conversation(client, other, title="theirs")
    user, things = await populated(client)
    response = await client.request("DELETE", ME, headers=user.headers, json={"password": PASSWORD})
    assert response.status_code == 204, response.text
    assert 'convobase_session=""' in response.headers.get("set-cookie", "")
    await assert_gone(client, app, user, things)
    # The blob another user's file uses stays, with the file; their data is untouched.
    assert await blob_stored(app, things["shared"])
    content = await client.get(f"/api/v1/files/{kept['id']}/content", headers=other.headers)
    assert content.content == b"also someone else's"
    chat = await client.get(f"/api/v1/conversations/{other_chat['id']}", headers=other.headers)
    assert chat.status_code == 200
    # The email is free again.
    await signup(client, user.email)


async def test_wrong_or_missing_password(client: httpx.AsyncClient, app: Any) -> None:
    user, _ = await populated(client)
    before = await rows_of(app, user.user["id"])
    wrong = await client.request("DELETE", ME, headers=user.headers, json={"password": "nope" * 3})
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(await client.delete(ME, headers=user.headers), 403, "password_required")
    assert_error(await client.request("DELETE", ME, headers=user.headers, json={}), 403)
    assert await rows_of(app, user.user["id"]) == before
    assert (await client.get(ME, headers=user.headers)).status_code == 200


async def test_passwordless_account_needs_a_recent_sign_in(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, things = await populated(client)
    async with app.state.runtime.database.session() as db:
        await db.execute(
            update(User).where(User.id == uuid.UUID(user.user["id"])).values(password_hash=None)
        )
        await db.commit()
    # An API key is no sign-in at all.
    api_key = {"Authorization": f"Bearer {things['api_key']}"}
    assert_error(await client.delete(ME, headers=api_key), 403, "recent_sign_in_required")
    # Eleven minutes after signing in is too late (the clock of the rule moves, not the session).
    later = utcnow() + timedelta(minutes=11)
    monkeypatch.setattr(accounts_service, "utcnow", lambda: later)
    assert_error(await client.delete(ME, headers=user.headers), 403, "recent_sign_in_required")
    assert await user_exists(app, user.user["id"])
    monkeypatch.undo()
    assert (await client.delete(ME, headers=user.headers)).status_code == 204
    await assert_gone(client, app, user, things)


async def test_a_guest_deletes_itself(client: httpx.AsyncClient, app: Any) -> None:
    guest = await start_guest(client)
    await new_conversation(client, guest)
    assert (await client.delete(ME, headers=guest.headers)).status_code == 204
    assert not await user_exists(app, guest.user["id"])


async def test_admin_deletes_a_user(client: httpx.AsyncClient, app: Any) -> None:
    admin = await make_admin(client, app)
    user, things = await populated(client)
    url = f"/api/v1/admin/users/{user.user['id']}"
    assert_error(await client.delete(url, headers=user.headers), 403, "admin_required")
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    await assert_gone(client, app, user, things)
    assert_error(await client.delete(url, headers=admin.headers), 404, "not_found")
    own = f"/api/v1/admin/users/{admin.user['id']}"
    assert_error(await client.delete(own, headers=admin.headers), 409, "cannot_delete_self")
    # The last administrator cannot delete their own account either.
    response = await client.request(
        "DELETE", ME, headers=admin.headers, json={"password": PASSWORD}
    )
    assert_error(response, 409, "last_admin")


async def test_shares_with_the_deleted_user_disappear(client: httpx.AsyncClient, app: Any) -> None:
    owner = await signup(client)
    recipient = await signup(client)
    chat = await new_conversation(client, owner, title="shared")
    await append(client, owner, chat["id"], "for you")
    share = await client.post(
        f"/api/v1/conversations/{chat['id']}/shares",
        headers=owner.headers,
        json={"kind": "user", "user_email": recipient.email, "permission": "read"},
    )
    assert share.status_code == 201, share.text
    seen = await client.get(f"/api/v1/conversations/{chat['id']}", headers=recipient.headers)
    assert seen.status_code == 200
    response = await client.request(
        "DELETE", ME, headers=recipient.headers, json={"password": PASSWORD}
    )
    assert response.status_code == 204
    async with app.state.runtime.database.session(write=False) as db:
        assert (await db.execute(select(Share))).first() is None
    messages = await client.get(
        f"/api/v1/conversations/{chat['id']}/messages", headers=owner.headers
    )
    assert [m["content"] for m in messages.json()["data"]] == ["for you"]


async def test_cli_users_delete(
    client: httpx.AsyncClient, app: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, things = await populated(client)
    result = await run_cli(settings, monkeypatch, "users", "delete", user.email, "--yes")
    assert result.exit_code == 0, result.output
    assert f"Deleted {user.email}" in result.output
    await assert_gone(client, app, user, things)
    again = await run_cli(settings, monkeypatch, "users", "delete", user.email, "--yes")
    assert again.exit_code == 1 and "No account" in again.output

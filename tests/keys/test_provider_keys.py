"""The provider key vault over HTTP, on every engine: last four characters only, per user."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from convobase.keys import service
from convobase.keys.crypto import derive
from convobase.models import ProviderKey, User
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import Account, assert_error, signup

URL = "/api/v1/provider-keys"
KEY = "sk-proj-VAULTTEST0123456789abcdefghijklmnopQRST"
OTHER_KEY = "sk-ant-api03-ANOTHERVAULTKEY9876543210zyxwvWXYZ"
CURRENT_VERSION = derive(TEST_SECRET.encode()).version


def _leaks(text: str, key: str) -> bool:
    """The key, or any eight characters of it beyond the last four, appear in ``text``."""
    visible = key[:-4]
    return any(visible[i : i + 8] in text for i in range(len(visible) - 7))


async def _put(
    client: httpx.AsyncClient, account: Account, provider: str, key: str
) -> dict[str, Any]:
    response = await client.put(f"{URL}/{provider}", headers=account.headers, json={"api_key": key})
    assert response.status_code == 200, response.text
    assert not _leaks(response.text, key)
    return dict(response.json())


async def _stored(app: Any, user_id: str, provider: str) -> str | None:
    async with app.state.runtime.database.session(write=False) as db:
        return await service.user_key(db, app.state.runtime.settings, uuid.UUID(user_id), provider)


async def test_put_get_list_delete(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    texts: list[str] = []

    created = await _put(client, account, "openai", KEY)
    assert set(created) == {"provider", "last4", "key_version", "created_at", "updated_at"}
    assert created["provider"] == "openai" and created["last4"] == "QRST"
    assert created["key_version"] == CURRENT_VERSION
    assert created["created_at"] == created["updated_at"]

    one = await client.get(f"{URL}/openai", headers=account.headers)
    assert one.status_code == 200 and one.json() == created
    await _put(client, account, "anthropic", OTHER_KEY)
    listed = await client.get(URL, headers=account.headers)
    assert listed.status_code == 200
    assert [k["provider"] for k in listed.json()["data"]] == ["anthropic", "openai"]
    assert listed.json()["next_cursor"] is None
    texts += [one.text, listed.text]

    # Replacing keeps created_at and shows the new key's last four characters.
    replaced = await _put(client, account, "openai", OTHER_KEY)
    assert replaced["last4"] == "WXYZ" and replaced["created_at"] == created["created_at"]
    assert replaced["updated_at"] >= created["updated_at"]
    assert await _stored(app, account.user["id"], "openai") == OTHER_KEY
    assert await _stored(app, account.user["id"], "anthropic") == OTHER_KEY
    assert await _stored(app, account.user["id"], "groq") is None

    deleted = await client.delete(f"{URL}/openai", headers=account.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await client.get(f"{URL}/openai", headers=account.headers), 404, "not_found")
    assert_error(await client.delete(f"{URL}/openai", headers=account.headers), 404, "not_found")
    listed = await client.get(URL, headers=account.headers)
    assert [k["provider"] for k in listed.json()["data"]] == ["anthropic"]
    texts.append(listed.text)
    assert await _stored(app, account.user["id"], "openai") is None
    for text in texts:
        assert not _leaks(text, KEY) and not _leaks(text, OTHER_KEY)


async def test_only_ciphertext_is_stored(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    await _put(client, account, "openai", KEY)
    async with app.state.runtime.database.session(write=False) as db:
        row = (await db.execute(select(ProviderKey))).scalar_one()
    assert KEY.encode() not in row.ciphertext and KEY[:-4].encode() not in row.ciphertext
    assert len(row.nonce) == 12 and len(row.ciphertext) == len(KEY) + 16
    assert row.key_version == CURRENT_VERSION and row.last4 == "QRST"


@pytest.mark.parametrize(
    ("key", "last4"), [("k", ""), ("abcdefghijk", ""), ("abcdefghijkl", "ijkl")]
)
async def test_a_short_key_is_never_shown_whole(
    client: httpx.AsyncClient, key: str, last4: str
) -> None:
    account = await signup(client)
    response = await client.put(f"{URL}/p", headers=account.headers, json={"api_key": key})
    assert response.status_code == 200 and response.json()["last4"] == last4


async def test_another_users_key_is_simply_not_found(client: httpx.AsyncClient, app: Any) -> None:
    owner, intruder = await signup(client), await signup(client)
    await _put(client, owner, "openai", KEY)

    assert_error(await client.get(f"{URL}/openai", headers=intruder.headers), 404, "not_found")
    assert_error(await client.delete(f"{URL}/openai", headers=intruder.headers), 404, "not_found")
    assert (await client.get(URL, headers=intruder.headers)).json()["data"] == []
    assert await _stored(app, intruder.user["id"], "openai") is None

    # The intruder's own key for the same provider is theirs alone; the owner's is untouched.
    mine = await _put(client, intruder, "openai", OTHER_KEY)
    assert mine["last4"] == "WXYZ"
    assert (await client.get(f"{URL}/openai", headers=owner.headers)).json()["last4"] == "QRST"
    assert await _stored(app, owner.user["id"], "openai") == KEY
    assert await _stored(app, intruder.user["id"], "openai") == OTHER_KEY


async def test_authentication_is_required(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(URL), 401, "unauthorized")
    assert_error(await client.put(f"{URL}/openai", json={"api_key": KEY}), 401, "unauthorized")
    assert_error(await client.delete(f"{URL}/openai"), 401, "unauthorized")


async def test_concurrent_puts_leave_one_row(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    keys = [f"{KEY}-{i:02d}" for i in range(8)]
    responses = await asyncio.gather(
        *(client.put(f"{URL}/openai", headers=account.headers, json={"api_key": k}) for k in keys)
    )
    assert [r.status_code for r in responses] == [200] * len(keys)
    listed = (await client.get(URL, headers=account.headers)).json()["data"]
    assert len(listed) == 1
    assert await _stored(app, account.user["id"], "openai") in keys


async def test_keys_per_user_are_bounded(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_KEYS_PER_USER", 2)
    account = await signup(client)
    await _put(client, account, "a", KEY)
    await _put(client, account, "b", KEY)
    response = await client.put(f"{URL}/c", headers=account.headers, json={"api_key": KEY})
    assert_error(response, 409, "too_many_provider_keys")
    await _put(client, account, "b", OTHER_KEY)  # replacing is always allowed


async def test_deleting_the_user_deletes_their_keys(client: httpx.AsyncClient, app: Any) -> None:
    account = await signup(client)
    await _put(client, account, "openai", KEY)
    async with app.state.runtime.database.session() as db:
        await db.execute(delete(User).where(User.id == uuid.UUID(account.user["id"])))
        await db.commit()
        assert (await db.execute(select(ProviderKey))).first() is None


BAD_PROVIDERS = [
    "OpenAI",
    "openai%0A",
    "-openai",
    ".x",
    "_x",
    "a" * 65,
    "open%20ai",
    "op%C3%A9nai",
    "a:b",
]


@pytest.mark.parametrize("provider", BAD_PROVIDERS)
async def test_bad_provider_names_are_refused(client: httpx.AsyncClient, provider: str) -> None:
    account = await signup(client)
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(
            method, f"{URL}/{provider}", headers=account.headers, json={"api_key": KEY}
        )
        error = assert_error(response, 422, "validation_error")
        assert error["details"]["errors"][0]["loc"] == ["path", "provider"]
        assert not _leaks(response.text, KEY)
    assert (await client.get(URL, headers=account.headers)).json()["data"] == []


def test_provider_names_at_the_limits_are_accepted() -> None:
    import re

    from convobase.keys.schemas import PROVIDER_PATTERN

    for name in ["openai", "a", "0", "a" * 64, "azure.openai", "x-ai", "my_llm", "9router"]:
        assert re.fullmatch(PROVIDER_PATTERN, name), name


BAD_BODIES: list[tuple[Any, int, str]] = [
    ({"api_key": ""}, 422, "string_too_short"),
    ({"api_key": KEY + "x" * 4096}, 422, "string_too_long"),
    ({"api_key": KEY + "\n"}, 422, "value_error"),
    ({"api_key": KEY[:10] + "\x00" + KEY[10:]}, 422, "value_error"),
    ({"api_key": KEY[:10] + "\x7f" + KEY[10:]}, 422, "value_error"),
    ({"api_key": KEY[:10] + "\u0085" + KEY[10:]}, 422, "value_error"),
    ({"api_key": " " + KEY}, 422, "value_error"),
    ({"api_key": KEY, "note": KEY}, 422, "extra_forbidden"),
    ({"key": KEY}, 422, "missing"),
    ({"api_key": 12345678901234}, 422, "string_type"),
    ({"api_key": None}, 422, "string_type"),
    ([KEY], 422, "model_attributes_type"),
    (KEY, 422, "model_attributes_type"),
]


@pytest.mark.parametrize(("body", "status", "error_type"), BAD_BODIES)
async def test_bad_bodies_are_refused_and_never_echoed(
    client: httpx.AsyncClient, body: Any, status: int, error_type: str
) -> None:
    account = await signup(client)
    response = await client.put(f"{URL}/openai", headers=account.headers, json=body)
    error = assert_error(response, status, "validation_error")
    assert error_type in {e["type"] for e in error["details"]["errors"]}, error
    assert not _leaks(response.text, KEY)
    assert all(set(e) == {"loc", "msg", "type"} for e in error["details"]["errors"])
    assert (await client.get(URL, headers=account.headers)).json()["data"] == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"api_key": "sk-proj-VAULTTEST0123456789', "application/json"),
        (b"api_key=sk-proj-VAULTTEST0123456789abcdef", "application/x-www-form-urlencoded"),
        (b"sk-proj-VAULTTEST0123456789abcdef", "text/plain"),
        (b"", "application/json"),
    ],
)
async def test_non_json_is_refused(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    account = await signup(client)
    response = await client.put(
        f"{URL}/openai",
        headers={**account.headers, "Content-Type": content_type},
        content=content,
    )
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert "VAULTTEST" not in response.text
    assert (await client.get(URL, headers=account.headers)).json()["data"] == []


async def test_rotation_batches_on_every_engine(
    client: httpx.AsyncClient, app: Any, tmp_path: Path
) -> None:
    """What `convobase keys rotate` does, batch by batch (the CLI itself: test_rotation.py)."""
    accounts = [await signup(client), await signup(client)]
    for account in accounts:
        for provider in ("a", "b", "c"):
            await _put(client, account, provider, KEY + provider)
    settings = app.state.runtime.settings
    new_secret = "the next secret " + "n" * 40
    url = settings.database_url
    rotated = make_settings(
        tmp_path, database_url=url, secret_key=new_secret, previous_secret_keys=[TEST_SECRET]
    )

    database = app.state.runtime.database
    after, batches, total = None, 0, 0
    while True:
        async with database.session() as db:
            batch = await service.rotate_batch(db, rotated, after=after, limit=4)
            await db.commit()
        if batch.seen == 0:
            break
        assert batch.failed == 0
        batches, total, after = batches + 1, total + batch.rotated, batch.last_id
    assert (batches, total) == (2, 6)

    alone = make_settings(tmp_path, database_url=url, secret_key=new_secret)
    new_version = derive(new_secret.encode()).version
    async with database.session(write=False) as db:
        assert set((await db.execute(select(ProviderKey.key_version))).scalars()) == {new_version}
        for account in accounts:
            for provider in ("a", "b", "c"):
                user_id = uuid.UUID(account.user["id"])
                assert await service.user_key(db, alone, user_id, provider) == KEY + provider
                with pytest.raises(service.VaultError):
                    await service.user_key(db, settings, user_id, provider)

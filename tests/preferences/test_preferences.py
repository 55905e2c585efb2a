"""Preferences: defaults, merge patches, dotted paths, reset, presets, isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from convobase.models import Preference
from convobase.preferences import service
from tests.helpers import Account, assert_error, signup

pytestmark = pytest.mark.usefixtures("app")

URL = "/api/v1/preferences"
MERGE_PATCH = {"content-type": "application/merge-patch+json"}

DEFAULTS: dict[str, Any] = {
    "language": "en",
    "locale": "en-US",
    "timezone": "UTC",
    "theme": "system",
    "font_size": 16,
    "compact_mode": False,
    "default_domain": "general",
    "preferred_provider": None,
    "default_model": {},
    "temperature": 0.7,
    "max_tokens": 2048,
    "streaming": True,
    "notifications": {"email": True, "push": False, "sound": True, "desktop": False},
    "privacy": {
        "save_history": True,
        "share_usage_analytics": False,
        "send_crash_reports": False,
        "history_retention_days": None,
    },
    "accessibility": {"reduce_motion": False, "high_contrast": False, "screen_reader": False},
    "beta_features": [],
}


def expected(**changes: Any) -> dict[str, Any]:
    """The defaults with ``changes``; a dict value for a section merges into that section."""
    out = {
        key: dict(value) if isinstance(value, dict) else value for key, value in DEFAULTS.items()
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(DEFAULTS[key], dict) and DEFAULTS[key]:
            out[key].update(value)
        else:
            out[key] = value
    return out


async def patch(
    client: httpx.AsyncClient, user: Account, body: Any, content_type: str = "application/json"
) -> dict[str, Any]:
    response = await client.patch(
        URL, headers={**user.headers, "content-type": content_type}, json=body
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def current(client: httpx.AsyncClient, user: Account) -> dict[str, Any]:
    response = await client.get(URL, headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_new_user_gets_the_defaults(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    assert await current(client, user) == {
        "preferences": DEFAULTS,
        "updated_at": None,
        "version": 0,
    }


async def test_requires_authentication(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(URL), 401, "unauthorized")
    assert_error(await client.patch(URL, json={"theme": "dark"}), 401, "unauthorized")
    assert_error(await client.get(f"{URL}/theme"), 401, "unauthorized")
    assert_error(await client.get(f"{URL}/presets"), 401, "unauthorized")


async def test_merge_patch_semantics(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    body = await patch(client, user, {"theme": "dark", "notifications": {"push": True}})
    assert body["preferences"] == expected(theme="dark", notifications={"push": True})

    # Objects merge recursively: push stays, email changes.
    body = await patch(client, user, {"notifications": {"email": False}})
    assert body["preferences"]["notifications"] == {
        "email": False,
        "push": True,
        "sound": True,
        "desktop": False,
    }
    # null removes a key: back to its default; a whole section too.
    body = await patch(client, user, {"notifications": {"push": None}})
    assert body["preferences"]["notifications"]["push"] is False
    assert body["preferences"]["notifications"]["email"] is False
    body = await patch(client, user, {"notifications": None, "theme": None})
    assert body["preferences"] == DEFAULTS

    # Arrays are replaced, never merged.
    body = await patch(client, user, {"beta_features": ["canvas", "voice", "canvas"]})
    assert body["preferences"]["beta_features"] == ["canvas", "voice"]  # de-duplicated
    body = await patch(client, user, {"beta_features": ["artifacts"]})
    assert body["preferences"]["beta_features"] == ["artifacts"]

    # Mappings merge key by key.
    await patch(client, user, {"default_model": {"medical": "gpt-4o"}})
    body = await patch(client, user, {"default_model": {"coding": "claude-sonnet-4-5"}})
    assert body["preferences"]["default_model"] == {
        "medical": "gpt-4o",
        "coding": "claude-sonnet-4-5",
    }
    body = await patch(client, user, {"default_model": {"medical": None}})
    assert body["preferences"]["default_model"] == {"coding": "claude-sonnet-4-5"}

    # Every typed field, set at once, round-trips.
    everything = {
        "language": "tr",
        "locale": "tr-TR",
        "timezone": "Europe/Istanbul",
        "theme": "light",
        "font_size": 20,
        "compact_mode": True,
        "default_domain": "mathematics",
        "preferred_provider": "groq",
        "temperature": 1,
        "max_tokens": 32000,
        "streaming": False,
        "privacy": {"save_history": False, "history_retention_days": 30},
        "accessibility": {"reduce_motion": True, "high_contrast": True, "screen_reader": True},
    }
    body = await patch(client, user, everything)
    assert body["preferences"]["temperature"] == 1.0
    assert body == await current(client, user)
    assert body["preferences"] == expected(
        **everything,
        default_model={"coding": "claude-sonnet-4-5"},
        beta_features=["artifacts"],
    )


@pytest.mark.parametrize(
    "content_type",
    ["application/merge-patch+json", "application/json", "application/json; charset=utf-8"],
)
async def test_both_content_types(client: httpx.AsyncClient, content_type: str) -> None:
    user = await signup(client)
    body = await patch(client, user, {"font_size": 18}, content_type)
    assert body["preferences"]["font_size"] == 18


async def test_updated_at_and_version_follow_changes(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    first = await patch(client, user, {"compact_mode": True})
    assert first["version"] == 1 and first["updated_at"] is not None
    second = await patch(client, user, {"compact_mode": False}, MERGE_PATCH["content-type"])
    assert second["version"] == 2 and second["updated_at"] > first["updated_at"]
    # A patch that changes nothing keeps the version (clients need not re-sync).
    same = await patch(client, user, {"compact_mode": False})
    assert (same["version"], same["updated_at"]) == (2, second["updated_at"])
    assert await current(client, user) == same


async def test_dotted_paths(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    response = await client.get(f"{URL}/notifications.email", headers=user.headers)
    assert response.json() == {"path": "notifications.email", "value": True, "updated_at": None}
    assert (await client.get(f"{URL}/notifications", headers=user.headers)).json()["value"] == (
        DEFAULTS["notifications"]
    )

    async def put(path: str, value: Any) -> dict[str, Any]:
        response = await client.put(f"{URL}/{path}", headers=user.headers, json={"value": value})
        assert response.status_code == 200, response.text
        body = dict(response.json())
        assert body["path"] == path and body["updated_at"] is not None
        return body

    assert (await put("notifications.email", False))["value"] is False
    assert (await put("temperature", 0.2))["value"] == 0.2
    assert (await put("default_model.medical", "gpt-4o"))["value"] == "gpt-4o"
    assert (await put("beta_features", ["voice"]))["value"] == ["voice"]
    prefs = (await current(client, user))["preferences"]
    assert prefs == expected(
        notifications={"email": False},
        temperature=0.2,
        default_model={"medical": "gpt-4o"},
        beta_features=["voice"],
    )
    # A mapping key nobody set reads as null.
    response = await client.get(f"{URL}/default_model.legal", headers=user.headers)
    assert response.json()["value"] is None

    # PUT replaces: a section given in part gets the defaults for the rest.
    assert (await put("notifications", {"push": True}))["value"] == {
        "email": True,
        "push": True,
        "sound": True,
        "desktop": False,
    }
    # null resets to the default.
    assert (await put("temperature", None))["value"] == 0.7
    assert (await put("default_model.medical", None))["value"] is None
    assert (await put("notifications", None))["value"] == DEFAULTS["notifications"]
    prefs = (await current(client, user))["preferences"]
    assert prefs == expected(beta_features=["voice"])


async def test_delete_resets_to_the_defaults(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    changed = await patch(client, user, {"theme": "dark", "privacy": {"save_history": False}})
    response = await client.delete(URL, headers=user.headers)
    assert response.status_code == 204 and response.content == b""
    after = await current(client, user)
    assert after["preferences"] == DEFAULTS
    # The reset is a change: clients syncing see a newer version.
    assert after["version"] == changed["version"] + 1
    assert after["updated_at"] > changed["updated_at"]
    assert (await client.delete(URL, headers=user.headers)).status_code == 204


async def test_presets_list_and_apply(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    response = await client.get(f"{URL}/presets", headers=user.headers)
    assert response.status_code == 200
    listed = {p["name"]: p for p in response.json()["data"]}
    assert {"general", "medical", "legal", "developer"} <= set(listed)
    assert listed["medical"]["values"] == {
        "default_domain": "medical",
        "temperature": 0.3,
        "default_model": {"medical": "gpt-4o"},
    }
    assert all(p["description"] for p in listed.values())
    assert response.json()["next_cursor"] is None

    await patch(client, user, {"theme": "dark", "beta_features": ["voice"]})
    applied = await client.post(f"{URL}/presets/medical/apply", headers=user.headers)
    assert applied.status_code == 200, applied.text
    prefs = applied.json()["preferences"]
    assert prefs == expected(
        theme="dark",  # the user's own choices stay
        beta_features=["voice"],
        default_domain="medical",
        temperature=0.3,
        default_model={"medical": "gpt-4o"},
    )
    prefs = (await client.post(f"{URL}/presets/developer/apply", headers=user.headers)).json()[
        "preferences"
    ]
    assert prefs["default_domain"] == "coding" and prefs["temperature"] == 0.3
    assert prefs["default_model"] == {"medical": "gpt-4o", "coding": "claude-sonnet-4-5"}
    assert prefs["beta_features"] == ["experimental_models", "multimodal"]
    prefs = (await client.post(f"{URL}/presets/legal/apply", headers=user.headers)).json()[
        "preferences"
    ]
    assert (prefs["default_domain"], prefs["default_model"]["legal"]) == ("legal", "gpt-4o")
    prefs = (await client.post(f"{URL}/presets/general/apply", headers=user.headers)).json()[
        "preferences"
    ]
    assert (prefs["default_domain"], prefs["temperature"]) == ("general", 0.7)
    final = await current(client, user)
    assert (final["preferences"], final["version"]) == (prefs, 5)


async def test_users_are_isolated(client: httpx.AsyncClient) -> None:
    alice = await signup(client)
    bob = await signup(client)
    await patch(client, alice, {"theme": "dark"})
    await client.put(f"{URL}/language", headers=alice.headers, json={"value": "pt"})
    assert (await current(client, bob))["preferences"] == DEFAULTS
    await patch(client, bob, {"theme": "light"})
    assert (await client.delete(URL, headers=bob.headers)).status_code == 204
    await client.post(f"{URL}/presets/legal/apply", headers=bob.headers)
    alice_prefs = (await current(client, alice))["preferences"]
    assert alice_prefs == expected(theme="dark", language="pt")


async def test_service_reads_the_typed_document_and_stores_only_choices(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await signup(client)
    stranger = await signup(client)
    await patch(client, user, {"temperature": 0.1, "notifications": {"push": True}})
    database = app.state.runtime.database
    async with database.session(write=False) as db:
        prefs = await service.get_preferences(db, uuid.UUID(user.user["id"]))
        assert prefs.temperature == 0.1 and prefs.notifications.push is True
        assert prefs.theme == "system"  # defaults fill the rest
        row = (await db.execute(select(Preference))).scalar_one()
        assert row.data == {"temperature": 0.1, "notifications": {"push": True}}
        defaults = await service.get_preferences(db, uuid.UUID(stranger.user["id"]))
        assert defaults == service.Preferences()

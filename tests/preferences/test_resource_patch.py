"""PATCH /preferences takes a merge patch of the document GET answers (RFC 7386 patches the
resource's representation), as well as the bare preferences document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import assert_error, signup
from tests.preferences.test_preferences import URL, current, patch

pytestmark = pytest.mark.usefixtures("app")

MEDIA_TYPES = ["application/merge-patch+json", "application/json"]


@pytest.mark.parametrize("content_type", MEDIA_TYPES)
async def test_a_patch_of_what_get_answers(client: httpx.AsyncClient, content_type: str) -> None:
    user = await signup(client)
    body = await patch(client, user, {"preferences": {"theme": "dark"}}, content_type)
    assert body["preferences"]["theme"] == "dark" and body["version"] == 1
    # The bare document still works, and both shapes land in the same place.
    body = await patch(client, user, {"font_size": 20}, content_type)
    assert body["preferences"]["theme"] == "dark" and body["preferences"]["font_size"] == 20
    # Read, change, send it all back: updated_at is ignored, the version is the current one.
    document = await current(client, user)
    document["preferences"]["notifications"]["push"] = True
    body = await patch(client, user, document, content_type)
    assert body["preferences"]["notifications"]["push"] is True
    assert body["version"] == document["version"] + 1
    assert await current(client, user) == body
    # A null member removes it: {"preferences": null} is back to the defaults.
    body = await patch(client, user, {"preferences": None}, content_type)
    assert body["preferences"]["theme"] == "system" and body["preferences"]["font_size"] == 16


async def test_a_stale_version_is_a_conflict_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    read = await current(client, user)
    await patch(client, user, {"preferences": {"theme": "light"}})
    read["preferences"]["theme"] = "dark"
    response = await client.patch(URL, headers=user.headers, json=read)
    error = assert_error(response, 409, "version_conflict")
    assert error["details"] == {"version": 1}
    assert (await current(client, user))["preferences"]["theme"] == "light"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"preferences": {"theme": "dark"}, "theme": "dark"}, ["body", "theme"]),
        ({"preferences": {"font_size": 1}}, ["body", "preferences", "font_size"]),
        ({"preferences": {"nope": 1}}, ["body", "preferences", "nope"]),
        ({"preferences": ["theme"]}, ["body", "preferences"]),
        ({"preferences": {}, "version": "1"}, ["body", "version"]),
        ({"preferences": {}, "version": True}, ["body", "version"]),
    ],
)
async def test_bad_resource_patches_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    user = await signup(client)
    response = await client.patch(URL, headers=user.headers, json=body)
    error = assert_error(response, 422, "validation_error")
    assert loc in [e["loc"] for e in error["details"]["errors"]]
    assert (await current(client, user))["version"] == 0

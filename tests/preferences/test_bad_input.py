"""Every bad input is a 4xx in the one error shape, and the stored preferences stay as they were."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers import Account, assert_error, signup

pytestmark = pytest.mark.usefixtures("app")

URL = "/api/v1/preferences"
JSON = {"content-type": "application/json"}
BASELINE = {"theme": "dark", "notifications": {"push": True}, "default_model": {"medical": "m"}}


async def with_baseline(client: httpx.AsyncClient) -> tuple[Account, dict[str, Any]]:
    user = await signup(client)
    response = await client.patch(URL, headers=user.headers, json=BASELINE)
    assert response.status_code == 200, response.text
    return user, dict(response.json())


async def assert_unchanged(
    client: httpx.AsyncClient, user: Account, before: dict[str, Any]
) -> None:
    after = await client.get(URL, headers=user.headers)
    assert after.json() == before


def error_locs(error: dict[str, Any]) -> list[list[str]]:
    errors = error["details"]["errors"]
    assert errors and all(set(e) == {"loc", "msg", "type"} for e in errors), errors
    return [e["loc"] for e in errors]


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"x": True}
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"colour": "red"}, ["body", "colour"]),
        ({"notifications": {"fax": True}}, ["body", "notifications", "fax"]),
        ({"accessibility": {"reduce_motion": True, "zoom": 2}}, ["body", "accessibility", "zoom"]),
        ({"compact_mode": "yes"}, ["body", "compact_mode"]),
        ({"compact_mode": 1}, ["body", "compact_mode"]),
        ({"font_size": "16"}, ["body", "font_size"]),
        ({"font_size": 99}, ["body", "font_size"]),
        ({"font_size": 16.5}, ["body", "font_size"]),
        ({"temperature": 2.01}, ["body", "temperature"]),
        ({"temperature": -0.1}, ["body", "temperature"]),
        ({"temperature": "hot"}, ["body", "temperature"]),
        ({"temperature": True}, ["body", "temperature"]),
        ({"max_tokens": 0}, ["body", "max_tokens"]),
        ({"timezone": "Mars/Olympus_Mons"}, ["body", "timezone"]),
        ({"timezone": "../../etc/passwd"}, ["body", "timezone"]),
        ({"theme": "blue"}, ["body", "theme"]),
        ({"language": "not a language"}, ["body", "language"]),
        ({"default_domain": "with.dot"}, ["body", "default_domain"]),
        ({"preferred_provider": "Open AI"}, ["body", "preferred_provider"]),
        ({"notifications": True}, ["body", "notifications"]),
        ({"notifications": {"email": None, "push": "no"}}, ["body", "notifications", "push"]),
        ({"privacy": {"history_retention_days": 0}}, ["body", "privacy", "history_retention_days"]),
        ({"default_model": {"bad key": "m"}}, ["body", "default_model", "bad key", "[key]"]),
        ({"default_model": {"coding": ""}}, ["body", "default_model", "coding"]),
        ({"default_model": {"coding": "m" * 201}}, ["body", "default_model", "coding"]),
        ({"default_model": ["gpt-4o"]}, ["body", "default_model"]),
        ({"beta_features": [f"f{i}" for i in range(33)]}, ["body", "beta_features"]),
        ({"beta_features": ["Not A Flag"]}, ["body", "beta_features", "0"]),
        ({"beta_features": "voice"}, ["body", "beta_features"]),
        ({"notifications": nested(10)}, ["body"]),
    ],
)
async def test_invalid_patches_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    user, before = await with_baseline(client)
    response = await client.patch(URL, headers=user.headers, json=body)
    error = assert_error(response, 422, "validation_error")
    assert loc in error_locs(error)
    await assert_unchanged(client, user, before)


async def test_one_bad_field_refuses_the_whole_patch(client: httpx.AsyncClient) -> None:
    user, before = await with_baseline(client)
    response = await client.patch(
        URL, headers=user.headers, json={"theme": "light", "font_size": 12, "temperature": 9}
    )
    assert error_locs(assert_error(response, 422)) == [["body", "temperature"]]
    await assert_unchanged(client, user, before)


@pytest.mark.parametrize("raw", [b"[]", b'"dark"', b"1", b"null", b"true", b'[{"theme": "dark"}]'])
async def test_non_object_bodies_are_422(client: httpx.AsyncClient, raw: bytes) -> None:
    user, before = await with_baseline(client)
    response = await client.patch(URL, headers={**user.headers, **JSON}, content=raw)
    assert error_locs(assert_error(response, 422, "validation_error")) == [["body"]]
    await assert_unchanged(client, user, before)


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b'{"theme": "dark",}',
        b'{"temperature": NaN}',
        b'{"temperature": Infinity}',
        b"\xff\xfe{",
        b"[" * 5000 + b"]" * 5000,
        b'{"max_tokens": ' + b"9" * 5000 + b"}",
    ],
)
async def test_invalid_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    user, before = await with_baseline(client)
    response = await client.patch(URL, headers={**user.headers, **JSON}, content=raw)
    error = assert_error(response, 400, "invalid_json")
    assert error_locs(error)[0][0] == "body"
    await assert_unchanged(client, user, before)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json-patch+json"],
)
async def test_unsupported_content_types_are_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    user, before = await with_baseline(client)
    headers = dict(user.headers)
    if content_type:
        headers["content-type"] = content_type
    response = await client.patch(URL, headers=headers, content=b'{"theme": "light"}')
    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/merge-patch+json" in error["details"]["accepted"]
    await assert_unchanged(client, user, before)


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    user, before = await with_baseline(client)
    body = json.dumps({"default_model": {f"d{i}": None for i in range(6000)}})
    assert len(body) > 65_536
    response = await client.patch(URL, headers={**user.headers, **JSON}, content=body)
    assert_error(response, 413, "payload_too_large")
    await assert_unchanged(client, user, before)


async def test_oversized_document_is_413_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    user, _ = await with_baseline(client)

    def models(start: int) -> dict[str, str]:
        return {f"{'d' * 60}{i:04d}": "m" * 200 for i in range(start, start + 31)}

    # Each half is fine; together they pass 16 KB, though every field is within its bounds.
    response = await client.patch(URL, headers=user.headers, json={"default_model": models(0)})
    assert response.status_code == 200, response.text
    before = response.json()
    response = await client.patch(URL, headers=user.headers, json={"default_model": models(31)})
    error = assert_error(response, 413, "preferences_too_large")
    assert error["details"]["max_bytes"] == 16_384 and error["details"]["bytes"] > 16_384
    await assert_unchanged(client, user, before)
    # The same through a single value.
    response = await client.put(
        f"{URL}/default_model", headers=user.headers, json={"value": models(0) | models(31)}
    )
    assert_error(response, 413, "preferences_too_large")
    await assert_unchanged(client, user, before)


@pytest.mark.parametrize(
    "path",
    [
        "colour",
        "notifications.fax",
        "notifications.email.on",
        "notification.email",
        "beta_features.0",
        "default_model.bad key",
        "default_model.medical.x",
        "theme.",
        ".theme",
        "presets.medical",
    ],
)
async def test_unknown_dotted_paths_are_404(client: httpx.AsyncClient, path: str) -> None:
    user, before = await with_baseline(client)
    assert_error(await client.get(f"{URL}/{path}", headers=user.headers), 404, "unknown_preference")
    response = await client.put(f"{URL}/{path}", headers=user.headers, json={"value": True})
    assert_error(response, 404, "unknown_preference")
    await assert_unchanged(client, user, before)


async def test_overlong_dotted_path_is_422(client: httpx.AsyncClient) -> None:
    user, before = await with_baseline(client)
    path = "a" * 201
    assert_error(await client.get(f"{URL}/{path}", headers=user.headers), 422, "validation_error")
    response = await client.put(f"{URL}/{path}", headers=user.headers, json={"value": 1})
    assert_error(response, 422, "validation_error")
    await assert_unchanged(client, user, before)


@pytest.mark.parametrize(
    ("path", "body", "status", "loc"),
    [
        ("notifications.email", {"value": "loud"}, 422, ["body", "value"]),
        ("temperature", {"value": 3}, 422, ["body", "value"]),
        ("theme", {"value": "blue"}, 422, ["body", "value"]),
        ("timezone", {"value": "Nowhere/Town"}, 422, ["body", "value"]),
        ("notifications", {"value": {"fax": True}}, 422, ["body", "value", "fax"]),
        ("notifications", {"value": 5}, 422, ["body", "value"]),
        ("default_model.medical", {"value": 7}, 422, ["body", "value"]),
        ("theme", {}, 422, ["body", "value"]),
        ("theme", {"value": "dark", "also": 1}, 422, ["body", "also"]),
        ("theme", ["dark"], 422, ["body"]),
    ],
)
async def test_invalid_values_by_path(
    client: httpx.AsyncClient, path: str, body: Any, status: int, loc: list[str]
) -> None:
    user, before = await with_baseline(client)
    response = await client.put(f"{URL}/{path}", headers=user.headers, json=body)
    assert loc in error_locs(assert_error(response, status, "validation_error"))
    await assert_unchanged(client, user, before)


async def test_put_needs_json(client: httpx.AsyncClient) -> None:
    user, before = await with_baseline(client)
    headers = {**user.headers, "content-type": "text/plain"}
    response = await client.put(f"{URL}/theme", headers=headers, content=b'{"value": "light"}')
    assert_error(response, 415, "unsupported_media_type")
    headers["content-type"] = "application/json"
    response = await client.put(f"{URL}/theme", headers=headers, content=b'{"value": ')
    assert_error(response, 400, "invalid_json")
    await assert_unchanged(client, user, before)


@pytest.mark.parametrize("name", ["nope", "Medical", "x" * 64])
async def test_unknown_preset_is_404(client: httpx.AsyncClient, name: str) -> None:
    user, before = await with_baseline(client)
    response = await client.post(f"{URL}/presets/{name}/apply", headers=user.headers)
    assert_error(response, 404, "unknown_preset")
    await assert_unchanged(client, user, before)


async def test_errors_never_echo_the_submitted_values(client: httpx.AsyncClient) -> None:
    user, _ = await with_baseline(client)
    secret = "s3cret value: do not echo"
    for field in ("theme", "language", "timezone", "default_domain", "temperature"):
        response = await client.patch(URL, headers=user.headers, json={field: secret})
        assert_error(response, 422, "validation_error")
        assert "s3cret" not in response.text

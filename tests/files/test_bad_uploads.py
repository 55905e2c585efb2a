"""Bad uploads: each gets a clear 4xx in the error shape and leaves nothing stored."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from convobase.config import Settings
from tests.files import samples
from tests.files.test_files import counts, upload
from tests.helpers import Account, assert_error, new_conversation, signup


async def assert_nothing_stored(app: Any, settings: Settings) -> None:
    assert await counts(app) == (0, 0)
    leftovers = (
        list((settings.data_dir / "tmp").glob("*")) if (settings.data_dir / "tmp").exists() else []
    )
    assert leftovers == []
    storage = settings.resolved_storage_dir
    assert not storage.exists() or [p for p in storage.rglob("*") if p.is_file()] == []


async def post_file(
    client: httpx.AsyncClient, account: Account, data: bytes, filename: str, ctype: str | None
) -> httpx.Response:
    entry: Any = (filename, data, ctype) if ctype else (filename, data)
    return await client.post("/api/v1/files", headers=account.headers, files={"file": entry})


@pytest.mark.parametrize("file_settings", [{"upload_max_bytes": 1000}])
async def test_over_the_size_limit_is_413_and_stores_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    user = await signup(client)
    response = await post_file(client, user, b"x" * 1001, "big.txt", "text/plain")
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["max_bytes"] == 1000
    await assert_nothing_stored(app, settings)
    # Beyond the route's whole-body ceiling the middleware refuses it before reading.
    huge = await post_file(client, user, b"x" * 1_200_000, "huge.txt", "text/plain")
    assert_error(huge, 413, "payload_too_large")
    await assert_nothing_stored(app, settings)
    assert (await post_file(client, user, b"x" * 1000, "ok.txt", "text/plain")).status_code == 201
    assert await counts(app) == (1, 1)


@pytest.mark.parametrize("file_settings", [{"upload_json_max_bytes": 100}])
async def test_json_upload_over_its_limit(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    user = await signup(client)
    data = base64.b64encode(b"y" * 101).decode()
    response = await client.post(
        "/api/v1/files", headers=user.headers, json={"filename": "a.txt", "data_base64": data}
    )
    assert_error(response, 413, "payload_too_large")
    await assert_nothing_stored(app, settings)


@pytest.mark.parametrize(
    ("data", "filename", "claimed", "code"),
    [
        (samples.png(), "fake.pdf", "application/pdf", "type_mismatch"),
        (samples.pdf(["x"]), "image.png", "image/png", "type_mismatch"),
        (b"plain words\n", "picture.jpg", "image/jpeg", "type_mismatch"),
        (
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
            "a.exe",
            None,
            "type_not_allowed",
        ),
        (b"\x00\x01\x02\x03 unknown binary \xff\xfe", "blob.dat", None, "unsupported_media_type"),
    ],
)
async def test_refused_types_are_415(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    data: bytes,
    filename: str,
    claimed: str | None,
    code: str,
) -> None:
    user = await signup(client)
    assert_error(await post_file(client, user, data, filename, claimed), 415, code)
    await assert_nothing_stored(app, settings)


@pytest.mark.parametrize("file_settings", [{"upload_allowed_types": ["image/png"]}])
async def test_allow_list_is_configurable(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    assert (await post_file(client, user, samples.png(), "a.png", None)).status_code == 201
    assert_error(await post_file(client, user, b"text\n", "a.txt", None), 415, "type_not_allowed")


@pytest.mark.parametrize("file_settings", [{"image_max_pixels": 100}])
async def test_an_image_with_too_many_pixels_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    user = await signup(client)
    response = await post_file(client, user, samples.png(20, 20), "bomb.png", "image/png")
    error = assert_error(response, 422, "image_too_large")
    assert error["details"]["max_pixels"] == 100
    await assert_nothing_stored(app, settings)


async def test_malformed_bodies(client: httpx.AsyncClient, app: Any, settings: Settings) -> None:
    user = await signup(client)
    assert_error(await post_file(client, user, b"", "empty.txt", "text/plain"), 422, "empty_file")
    boundary = "b0undary"
    truncated = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\nhello, this body never ends"
    ).encode()
    response = await client.post(
        "/api/v1/files",
        headers={**user.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=truncated,
    )
    assert_error(response, 400, "invalid_multipart")
    no_boundary = await client.post(
        "/api/v1/files",
        headers={**user.headers, "Content-Type": "multipart/form-data"},
        content=b"whatever",
    )
    assert_error(no_boundary, 400, "invalid_multipart")
    urlencoded = await client.post("/api/v1/files", headers=user.headers, data={"note": "hi"})
    assert_error(urlencoded, 415, "unsupported_upload_encoding")
    form_without_file = await client.post(
        "/api/v1/files",
        headers=user.headers,
        files={"other": ("a.txt", b"x")},
    )
    assert_error(form_without_file, 422, "missing_file")
    wrong_encoding = await client.post(
        "/api/v1/files", headers={**user.headers, "Content-Type": "text/plain"}, content=b"hi"
    )
    assert_error(wrong_encoding, 415, "unsupported_upload_encoding")

    def json_upload(body: Any) -> Any:
        return client.post("/api/v1/files", headers=user.headers, json=body)

    assert_error(
        await json_upload({"filename": "a.txt", "data_base64": "not base64!!"}),
        422,
        "invalid_base64",
    )
    assert_error(await json_upload({"data_base64": "aGk="}), 422, "validation_error")
    bad_json = await client.post(
        "/api/v1/files",
        headers={**user.headers, "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert_error(bad_json, 400, "invalid_json")
    bad_id = await client.post(
        "/api/v1/files",
        headers=user.headers,
        files={"file": ("a.txt", b"hi\n")},
        data={"conversation_id": "not-a-uuid"},
    )
    assert_error(bad_id, 422, "validation_error")
    await assert_nothing_stored(app, settings)
    client.cookies.clear()
    assert_error(await client.post("/api/v1/files", files={"file": ("a.txt", b"hi")}), 401)


async def test_filenames_are_sanitised_for_display(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    names = {
        "../../etc/passwd": "passwd",
        "..\\..\\windows\\win.ini": "win.ini",
        "bad\x01na\x1bme\n.txt": "badname.txt",
        "..": "file",
        "a" * 300 + ".txt": "a" * 251 + ".txt",
    }
    for raw, shown in names.items():
        # JSON carries any character; multipart clients percent-encode some of them.
        response = await client.post(
            "/api/v1/files",
            headers=user.headers,
            json={"filename": raw, "data_base64": base64.b64encode(b"content\n").decode()},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["filename"] == shown
        content = await client.get(f"/api/v1/files/{body['id']}/content", headers=user.headers)
        assert "/" not in content.headers["content-disposition"].split("filename=")[1]
    multipart = await upload(client, user, b"x\n", "../../etc/passwd", "text/plain")
    assert multipart["filename"] == "passwd"
    unicode_name = await client.post(
        "/api/v1/files",
        headers=user.headers,
        json={"filename": 'résumé "final".txt', "data_base64": "aGkK"},
    )
    file_id = unicode_name.json()["id"]
    response = await client.get(f"/api/v1/files/{file_id}/content", headers=user.headers)
    disposition = response.headers["content-disposition"]
    assert 'filename="rsum final.txt"' in disposition
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt" in disposition


async def test_foreign_files_and_conversations_are_not_found(client: httpx.AsyncClient) -> None:
    alice, bob = await signup(client), await signup(client)
    alices = await upload(client, alice, b"mine\n", "mine.txt")
    for path in ("", "/content", "/versions"):
        assert_error(
            await client.get(f"/api/v1/files/{alices['id']}{path}", headers=bob.headers), 404
        )
    assert_error(await client.delete(f"/api/v1/files/{alices['id']}", headers=bob.headers), 404)
    alices_conversation = await new_conversation(client, alice)
    response = await client.post(
        "/api/v1/files",
        headers=bob.headers,
        files={"file": ("a.txt", b"hi\n")},
        data={"conversation_id": alices_conversation["id"]},
    )
    assert_error(response, 404)
    listing = await client.get(
        "/api/v1/files", headers=bob.headers, params={"conversation_id": alices_conversation["id"]}
    )
    assert_error(listing, 404)
    # Bob cannot point a message at Alice's file.
    bobs_conversation = await new_conversation(client, bob)
    response = await client.post(
        f"/api/v1/conversations/{bobs_conversation['id']}/messages",
        headers=bob.headers,
        json={"role": "user", "parts": [{"type": "file", "file_id": alices["id"]}]},
    )
    error = assert_error(response, 422, "invalid_file")
    assert error["details"]["file_ids"] == [alices["id"]]
    # And Alice's file is untouched.
    content = await client.get(f"/api/v1/files/{alices['id']}/content", headers=alice.headers)
    assert content.content == b"mine\n"


def test_tmp_dir_is_inside_the_data_dir(settings: Settings, tmp_path: Path) -> None:
    from convobase.files.service import policy

    assert policy(settings).tmp_dir.is_relative_to(settings.data_dir.resolve())

"""Files through the API: upload (multipart and JSON), analysis, dedup, versions, download."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from convobase.files import repository as files_repository
from convobase.models import Blob, File
from tests.files import samples
from tests.helpers import Account, append, assert_error, new_conversation, signup


async def upload(
    client: httpx.AsyncClient,
    account: Account,
    data: bytes,
    filename: str = "file.bin",
    content_type: str | None = None,
    *,
    expect: int = 201,
    **fields: str,
) -> dict[str, Any]:
    file_tuple: tuple[str, bytes] | tuple[str, bytes, str] = (
        (filename, data, content_type) if content_type else (filename, data)
    )
    response = await client.post(
        "/api/v1/files", headers=account.headers, files={"file": file_tuple}, data=fields
    )
    assert response.status_code == expect, response.text
    return dict(response.json())


async def counts(app: Any) -> tuple[int, int]:
    async with app.state.runtime.database.session(write=False) as db:
        files = await db.scalar(select(func.count()).select_from(File))
        blobs = await db.scalar(select(func.count()).select_from(Blob))
    return int(files or 0), int(blobs or 0)


async def stored_size(app: Any, sha256: str) -> int | None:
    size: int | None = await app.state.runtime.storage.size(files_repository.blob_key(sha256))
    return size


async def fetch(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """Follow a download_url: the app's own (local storage) or the S3 server's (presigned)."""
    if url.startswith("http://testserver"):
        return await client.get(url, **kwargs)
    async with httpx.AsyncClient() as outside:
        return await outside.get(url, **kwargs)


async def test_multipart_upload_is_typed_from_bytes_analysed_and_downloadable(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    image = samples.png(40, 30)
    body = await upload(client, user, image, "photo.png", "image/png")
    assert body["content_type"] == "image/png"
    assert body["size"] == len(image)
    assert body["sha256"] == hashlib.sha256(image).hexdigest()
    assert body["version"] == 1
    assert body["analysis"]["format"] == "png"
    assert (body["analysis"]["width"], body["analysis"]["height"]) == (40, 30)

    meta = (await client.get(f"/api/v1/files/{body['id']}", headers=user.headers)).json()
    assert meta["filename"] == "photo.png"
    content = await client.get(f"/api/v1/files/{body['id']}/content", headers=user.headers)
    assert content.status_code == 200
    assert content.content == image
    assert content.headers["content-type"] == "image/png"
    assert content.headers["content-length"] == str(len(image))
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"].startswith('inline; filename="photo.png"')
    assert content.headers["accept-ranges"] == "bytes"

    signed = await fetch(client, meta["download_url"])  # no credentials at all
    assert signed.status_code == 200
    assert signed.content == image


async def test_json_base64_upload_and_text_analysis(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    text = "# Title\n\nSome *markdown*: with ünïcode.\nLast line"
    encoded = base64.b64encode(text.encode()).decode()
    response = await client.post(
        "/api/v1/files",
        headers=user.headers,
        json={"filename": "notes.md", "content_type": "text/markdown", "data_base64": encoded},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "text/markdown"
    assert body["analysis"]["characters"] == len(text)
    assert body["analysis"]["lines"] == 4
    assert body["analysis"]["has_text"] is True
    # The seed plans send data URLs; the prefix is accepted.
    data_url = "data:application/json;base64," + base64.b64encode(b'{"a": 1}').decode()
    response = await client.post(
        "/api/v1/files",
        headers=user.headers,
        json={"filename": "data.json", "data_base64": data_url},
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "application/json"
    got = await client.get(f"/api/v1/files/{response.json()['id']}/content", headers=user.headers)
    assert got.content == b'{"a": 1}'
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert got.headers["content-disposition"].startswith("attachment;")


async def test_pdf_and_audio_analysis(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    body = await upload(client, user, samples.pdf(["Hello there", "Page two"]), "doc.pdf")
    assert body["content_type"] == "application/pdf"
    assert body["analysis"]["page_count"] == 2
    assert body["analysis"]["has_text"] is True
    assert body["analysis"]["text_length"] == len("Hello there") + len("Page two")

    scan = await upload(client, user, samples.pdf([""]), "scan.pdf")
    assert scan["analysis"]["has_text"] is False

    audio = await upload(client, user, samples.wav(0.5), "voice.wav", "audio/wav")
    assert audio["content_type"] == "audio/x-wav"
    assert audio["analysis"]["duration_seconds"] == pytest.approx(0.5)


async def test_corrupt_pdf_is_stored_with_the_error_recorded(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    broken = b"%PDF-1.7\n" + b"\x00garbage that is not a pdf body" * 50
    body = await upload(client, user, broken, "broken.pdf", "application/pdf")
    assert body["content_type"] == "application/pdf"
    assert body["analysis"]["format"] == "pdf"
    assert body["analysis"]["error"]
    content = await client.get(f"/api/v1/files/{body['id']}/content", headers=user.headers)
    assert content.content == broken


async def test_identical_bytes_are_stored_once_and_freed_with_the_last_file(
    client: httpx.AsyncClient, app: Any
) -> None:
    alice, bob = await signup(client), await signup(client)
    data = samples.jpeg()
    first = await upload(client, alice, data, "a.jpg")
    second = await upload(client, bob, data, "b.jpg")
    third = await upload(client, alice, data, "again.jpg")
    assert first["id"] != second["id"] != third["id"]
    assert await counts(app) == (3, 1)
    sha = first["sha256"]
    assert await stored_size(app, sha) == len(data)

    for file, owner in ((first, alice), (second, bob)):
        response = await client.delete(f"/api/v1/files/{file['id']}", headers=owner.headers)
        assert response.status_code == 204
        assert await counts(app) == (1 if file is second else 2, 1)
        assert await stored_size(app, sha) == len(data)
    # The last user of the blob still reads it; deleting it frees the bytes.
    kept = await client.get(f"/api/v1/files/{third['id']}/content", headers=alice.headers)
    assert kept.content == data
    assert (await client.delete(f"/api/v1/files/{third['id']}", headers=alice.headers)).is_success
    assert await counts(app) == (0, 0)
    assert await stored_size(app, sha) is None
    # Uploading the same bytes again stores them again.
    again = await upload(client, bob, data, "b.jpg")
    assert await stored_size(app, again["sha256"]) == len(data)


async def test_same_name_in_a_conversation_makes_versions(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    other = await new_conversation(client, user)
    v1 = await upload(client, user, b"one\n", "plan.txt", conversation_id=conversation["id"])
    v2 = await upload(client, user, b"two\n", "plan.txt", conversation_id=conversation["id"])
    elsewhere = await upload(client, user, b"three\n", "plan.txt", conversation_id=other["id"])
    assert (v1["version"], v2["version"], elsewhere["version"]) == (1, 2, 1)
    assert v2["conversation_id"] == conversation["id"]
    versions = await client.get(f"/api/v1/files/{v1['id']}/versions", headers=user.headers)
    assert [f["id"] for f in versions.json()["data"]] == [v1["id"], v2["id"]]
    assert [f["version"] for f in versions.json()["data"]] == [1, 2]


async def test_upload_linked_to_a_message_and_listing(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    message = await append(client, user, conversation["id"], "see attached")
    attached = await upload(client, user, b"attached\n", "a.txt", message_id=message["id"])
    assert attached["message_id"] == message["id"]
    assert attached["conversation_id"] == conversation["id"]
    loose = [await upload(client, user, f"loose {i}\n".encode(), f"{i}.txt") for i in range(3)]

    page = await client.get("/api/v1/files", headers=user.headers, params={"limit": 2})
    assert page.status_code == 200
    first = page.json()
    assert [f["id"] for f in first["data"]] == [loose[2]["id"], loose[1]["id"]]
    rest = await client.get(
        "/api/v1/files",
        headers=user.headers,
        params={"limit": 2, "cursor": first["next_cursor"]},
    )
    assert [f["id"] for f in rest.json()["data"]] == [loose[0]["id"], attached["id"]]
    assert rest.json()["next_cursor"] is None
    in_conversation = await client.get(
        "/api/v1/files", headers=user.headers, params={"conversation_id": conversation["id"]}
    )
    assert [f["id"] for f in in_conversation.json()["data"]] == [attached["id"]]

    # A message may reference its author's own files, and only those.
    ok = await client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        headers=user.headers,
        json={"role": "user", "parts": [{"type": "file", "file_id": attached["id"]}]},
    )
    assert ok.status_code == 201, ok.text


async def test_deleting_a_conversation_deletes_its_files_and_blobs(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    inside = await upload(client, user, b"inside\n", "in.txt", conversation_id=conversation["id"])
    outside = await upload(client, user, b"outside\n", "out.txt")
    response = await client.delete(
        f"/api/v1/conversations/{conversation['id']}", headers=user.headers
    )
    assert response.status_code == 204
    assert_error(await client.get(f"/api/v1/files/{inside['id']}", headers=user.headers), 404)
    assert await stored_size(app, inside["sha256"]) is None
    assert await stored_size(app, outside["sha256"]) == len(b"outside\n")
    assert await counts(app) == (1, 1)


async def test_range_requests(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    data = bytes(range(48, 58)) * 10  # 100 bytes of digits
    body = await upload(client, user, data, "digits.txt")
    url = f"/api/v1/files/{body['id']}/content"
    cases = {"bytes=0-9": data[:10], "bytes=90-": data[90:], "bytes=-5": data[-5:]}
    cases["bytes=95-1000"] = data[95:]
    for header, expected in cases.items():
        response = await client.get(url, headers={**user.headers, "Range": header})
        assert response.status_code == 206, header
        assert response.content == expected, header
        assert response.headers["content-length"] == str(len(expected))
        start = len(data) - len(expected) if header != "bytes=0-9" else 0
        assert response.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/100"
    # Malformed or multi-range: the whole file.
    for header in ("bytes=a-b", "items=0-1", "bytes=0-1,5-6"):
        response = await client.get(url, headers={**user.headers, "Range": header})
        assert response.status_code == 200 and response.content == data
    for header in ("bytes=100-", "bytes=50-10", "bytes=-0"):
        response = await client.get(url, headers={**user.headers, "Range": header})
        assert_error(response, 416, "range_not_satisfiable")
        assert response.headers["content-range"] == "bytes */100"


async def test_signed_links_refuse_tampering_and_expiry(
    client: httpx.AsyncClient, app: Any, storage_kind: str
) -> None:
    from convobase.files.service import _signature

    user = await signup(client)
    body = await upload(client, user, b"secret plans\n", "plans.txt")
    url: str = body["download_url"]
    assert (await fetch(client, url)).content == b"secret plans\n"
    # Change one character of the signature: refused.
    head, _, signature = url.rpartition("ignature=")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert (await fetch(client, head + "ignature=" + flipped)).status_code == 403
    if storage_kind == "local":
        assert_error(await client.get(head + "ignature=" + flipped), 403, "invalid_signature")
        expired = _signature(app.state.runtime.secret, body["id"], 1000)
        response = await client.get(
            f"/api/v1/files/{body['id']}/content?expires=1000&signature={expired}"
        )
        assert_error(response, 403, "signature_expired")
        # A valid signature is for one file only.
        other = await upload(client, user, b"other\n", "other.txt")
        query = url.split("?", 1)[1]
        assert_error(
            await client.get(f"/api/v1/files/{other['id']}/content?{query}"),
            403,
            "invalid_signature",
        )
    # Without a signature, the content needs the owner's session.
    client.cookies.clear()
    assert_error(await client.get(f"/api/v1/files/{body['id']}/content"), 401)

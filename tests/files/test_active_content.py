"""Claimed types are checked, stored types are ours, and active content is only downloaded.

Active content (HTML, SVG, XML: a browser could run its script) is accepted and stored under its
real type, and every route that serves a file's bytes answers it as an attachment with
``nosniff`` and a ``sandbox`` CSP. The sweep below follows every download link there is: the
content route, the signed or presigned ``download_url``, each version's, and every link to
bytes in the console's pages and the share page.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from convobase.config import Settings
from convobase.models import File
from tests.files.test_bad_uploads import assert_nothing_stored
from tests.files.test_files import fetch, upload
from tests.helpers import Account, assert_error, new_conversation, signup

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>\n'
XML = (
    b'<?xml version="1.0"?>\n<root><h:script xmlns:h="http://www.w3.org/1999/xhtml">'
    b"alert(document.cookie)</h:script></root>\n"
)
# (filename, bytes, claimed type) -> the type stored.
ACTIVE = [
    ("page.html", HTML, None, "text/html"),
    ("page.html", HTML, "text/html", "text/html"),
    ("notes.txt", HTML, "text/plain", "text/html"),  # the claim cannot make it plain text
    ("drawing.svg", SVG, None, "image/svg+xml"),
    ("drawing.txt", SVG, "application/octet-stream", "image/svg+xml"),
    ("drawing", SVG, "image/svg+xml", "image/svg+xml"),
    ("data.xml", XML, None, "text/xml"),
    ("data", XML, "application/octet-stream", "text/xml"),
    ("readme.txt", b"just text\n", "text/html", "text/html"),
]


def looks_active(content_type: str) -> bool:
    """This test's own idea of active content, independent of the code under test."""
    base = content_type.split(";")[0].strip().lower()
    return any(word in base for word in ("html", "xml", "svg", "javascript", "ecmascript"))


def json_upload(filename: str, data: bytes, claim: str | None, **fields: str) -> dict[str, Any]:
    body: dict[str, Any] = {"filename": filename, "data_base64": base64.b64encode(data).decode()}
    if claim is not None:
        body["content_type"] = claim
    return {**body, **fields}


def multipart_body(filename: bytes, part_type: bytes, data: bytes) -> tuple[bytes, str]:
    """A multipart body built by hand, so part headers can hold what clients would refuse."""
    boundary = "cbtestboundary"
    body = (
        b"--" + boundary.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: " + part_type + b"\r\n\r\n" + data + b"\r\n"
        b"--" + boundary.encode() + b"--\r\n"
    )
    return body, f"multipart/form-data; boundary={boundary}"


def assert_download_only(response: httpx.Response, *, ours: bool = True) -> None:
    """Served as a download; on our own routes also never sniffed and sandboxed."""
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment"), response.headers
    if ours:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]


def assert_not_inline_active(response: httpx.Response) -> None:
    """Whatever the file: inline only for a type no browser runs script from."""
    disposition = response.headers.get("content-disposition", "")
    if not disposition.startswith("attachment"):
        served = response.headers.get("content-type", "")
        assert not looks_active(served), (served, disposition)


async def test_claims_with_control_characters_or_no_type_are_422(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    user = await signup(client)
    refused = {
        "text/plain\u0000": "invalid_characters",
        "text/plain\r\nX-Injected: 1": "invalid_content_type",
        "text/plain\n": "invalid_content_type",
        "text/pl\u00e4in": "invalid_content_type",
        "text/plain\u007f": "invalid_content_type",
        "text": "invalid_content_type",
        "text/plain/extra": "invalid_content_type",
    }
    for claim, code in refused.items():
        response = await client.post(
            "/api/v1/files", headers=user.headers, json=json_upload("a.txt", b"hello\n", claim)
        )
        error = assert_error(response, 422, code)
        assert error["details"]["errors"][0]["loc"] == ["body", "content_type"]
    # In a multipart part's own header (a client library would refuse to send these).
    for part_type, code in (
        (b"text/plain\x00", "invalid_characters"),
        (b"text/plain\x0b", "invalid_content_type"),
        (b"text/pl\xe4in", "invalid_content_type"),
    ):
        body, content_type = multipart_body(b"a.txt", part_type, b"hello\n")
        response = await client.post(
            "/api/v1/files", headers={**user.headers, "content-type": content_type}, content=body
        )
        assert_error(response, 422, code)
    await assert_nothing_stored(app, settings)


async def test_the_stored_type_is_ours_never_the_claim(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    cases = [
        ("notes", "text/x-made-up", "text/plain"),
        ("notes", "TEXT/Markdown; charset=utf-8", "text/markdown"),
        ("notes", "text/plain; charset=utf-8", "text/plain"),
        ("notes.csv", "text/plain", "text/csv"),
    ]
    for filename, claim, stored in cases:
        response = await client.post(
            "/api/v1/files", headers=user.headers, json=json_upload(filename, b"a,b\n", claim)
        )
        assert response.status_code == 201, response.text
        assert response.json()["content_type"] == stored
        assert response.json()["claimed_type"] == claim.split(";")[0].lower()
        content = await client.get(
            f"/api/v1/files/{response.json()['id']}/content", headers=user.headers
        )
        assert content.headers["content-type"].split(";")[0] == stored


async def test_a_stored_type_unfit_for_a_header_is_served_as_octet_stream(
    client: httpx.AsyncClient, app: Any
) -> None:
    """Rows stored before claims were checked: the download works and is only a download."""
    user = await signup(client)
    body = await upload(client, user, b"hello\n", "a.txt", "text/plain")
    async with app.state.runtime.database.session() as db:
        await db.execute(
            update(File)
            .where(File.id == uuid.UUID(body["id"]))
            .values(content_type="text/plain\r\nX-Injected: 1")
        )
        await db.commit()
    response = await client.get(f"/api/v1/files/{body['id']}/content", headers=user.headers)
    assert_download_only(response)
    assert response.headers["content-type"] == "application/octet-stream"
    assert "x-injected" not in response.headers
    assert response.content == b"hello\n"


async def test_a_nul_in_a_filename_is_422(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    user = await signup(client)
    response = await client.post(
        "/api/v1/files", headers=user.headers, json=json_upload("bad\u0000.txt", b"hi\n", None)
    )
    error = assert_error(response, 422, "invalid_characters")
    assert error["details"]["errors"][0]["loc"] == ["body", "filename"]
    body, content_type = multipart_body(b"bad\x00.txt", b"text/plain", b"hi\n")
    response = await client.post(
        "/api/v1/files", headers={**user.headers, "content-type": content_type}, content=body
    )
    assert_error(response, 422, "invalid_characters")
    await assert_nothing_stored(app, settings)


@pytest.mark.parametrize("encoding", ["multipart", "json"])
async def test_active_content_is_stored_but_only_ever_served_as_a_download(
    client: httpx.AsyncClient, encoding: str
) -> None:
    user: Account = await signup(client)
    conversation = await new_conversation(client, user, title="Files")
    stored = []
    # Each case twice in the conversation, so every file has two versions.
    for _ in range(2):
        for filename, data, claim, expected in ACTIVE:
            if encoding == "multipart":
                body = await upload(
                    client, user, data, filename, claim, conversation_id=conversation["id"]
                )
            else:
                response = await client.post(
                    "/api/v1/files",
                    headers=user.headers,
                    json=json_upload(filename, data, claim, conversation_id=conversation["id"]),
                )
                assert response.status_code == 201, response.text
                body = response.json()
            assert body["content_type"] == expected, (filename, claim, body)
            assert looks_active(expected)
            stored.append(body)

    for file in stored:
        content = await client.get(f"/api/v1/files/{file['id']}/content", headers=user.headers)
        assert_download_only(content)
        url = file["download_url"]
        assert_download_only(await fetch(client, url), ours=url.startswith("http://testserver"))
        versions = await client.get(f"/api/v1/files/{file['id']}/versions", headers=user.headers)
        same_name = sum(1 for case in ACTIVE if case[0] == file["filename"])
        assert len(versions.json()["data"]) == 2 * same_name
        for version in versions.json()["data"]:
            response = await client.get(
                f"/api/v1/files/{version['id']}/content", headers=user.headers
            )
            assert_download_only(response)
            url = version["download_url"]
            signed = await fetch(client, url)
            assert_download_only(signed, ours=url.startswith("http://testserver"))

    # Every link to a file's bytes in the console and on the share page (the console's previews
    # and downloads use the content route, the share page shows no file at all).
    share = await client.post(
        f"/api/v1/conversations/{conversation['id']}/shares",
        headers=user.headers,
        json={"kind": "link", "mode": "live", "permission": "read"},
    )
    assert share.status_code == 201, share.text
    pages = [
        "/console/files",
        f"/console/c/{conversation['id']}",
        *(f"/console/files/{file['id']}" for file in stored),
    ]
    linked = set()
    for page in pages:
        response = await client.get(page)  # the session cookie from sign-up
        assert response.status_code == 200, (page, response.status_code)
        assert b"<script>alert" not in response.content
        linked |= set(re.findall(r"/api/v1/files/[0-9a-f-]{36}/content", response.text))
    shared = await client.get(f"/s/{share.json()['token']}")
    assert shared.status_code == 200
    assert "/api/v1/files/" not in shared.text
    assert {f"/api/v1/files/{file['id']}/content" for file in stored} <= linked
    for link in linked:
        response = await client.get(link)
        assert_download_only(response)
        assert_not_inline_active(response)


async def test_safe_types_stay_inline(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    body = await upload(client, user, b"plain words\n", "plain.txt", "text/plain")
    response = await client.get(f"/api/v1/files/{body['id']}/content", headers=user.headers)
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert_not_inline_active(response)

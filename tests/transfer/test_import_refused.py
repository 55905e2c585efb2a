"""Files refused whole: too large, zip bombs, unsafe names, symlinks, wrong shapes, bad JSON.

Each answers a clear 4xx in the one error shape and leaves the account exactly as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import httpx
import pytest

from tests.helpers import Account, assert_error, signup
from tests.transfer import chatgpt_data
from tests.transfer.test_import_chatgpt import conversations, upload

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"import_max_bytes": 300_000}


def zipped(entries: dict[str | zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


GOOD = json.dumps([chatgpt_data.trip()]).encode()


def symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link.json")
    info.external_attr = (0o120777 << 16) | 0x20
    return info


@pytest.mark.parametrize(
    ("entries", "status", "code"),
    [
        ({"conversations.json": GOOD, "../../etc/cron.d/x": b"boom"}, 422, "unsafe_archive"),
        ({"conversations.json": GOOD, "/etc/passwd": b"x"}, 422, "unsafe_archive"),
        ({"conversations.json": GOOD, "a\\..\\b.json": b"x"}, 422, "unsafe_archive"),
        ({"conversations.json": GOOD, symlink(): b"/etc/passwd"}, 422, "unsafe_archive"),
        # 50 MB of spaces inside a valid JSON list: compresses ~1000:1.
        ({"conversations.json": b"[" + b" " * 50_000_000 + b"]"}, 422, "zip_bomb"),
        ({"chat.html": b"<html></html>"}, 422, "unsupported_format"),
        ({"conversations.json": b'{"not": "a list"}'}, 422, "unsupported_format"),
        ({"conversations.json": GOOD[:-40]}, 400, "invalid_json"),
        ({"manifest.json": b'{"format": "convobase-export", "version": 9}'}, 422, None),
    ],
    ids=[
        "traversal",
        "absolute",
        "backslash",
        "symlink",
        "bomb",
        "no-json",
        "shape",
        "truncated",
        "version",
    ],
)
async def test_zip_refused(
    client: httpx.AsyncClient, entries: dict[Any, bytes], status: int, code: str | None
) -> None:
    user = await signup(client)
    response = await upload(client, user, zipped(entries), "export.zip", "application/zip")
    assert_error(response, status, code)
    assert await conversations(client, user) == {}


async def test_too_many_entries_and_too_large_declared(client: httpx.AsyncClient, app: Any) -> None:
    user = await signup(client)
    app.state.runtime.settings.import_zip_max_entries = 3
    many = zipped({f"f{i}.txt": b"x" for i in range(5)})
    assert_error(
        await upload(client, user, many, "e.zip", "application/zip"), 422, "zip_too_many_entries"
    )
    app.state.runtime.settings.import_zip_max_entries = 1000
    app.state.runtime.settings.import_zip_max_bytes = 1000
    big = zipped({"conversations.json": GOOD})
    assert_error(await upload(client, user, big, "e.zip", "application/zip"), 413, "zip_too_large")


async def test_too_large_while_streaming(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    data = b"[" + b" " * 400_000 + b"]"
    error = assert_error(await upload(client, user, data), 413)
    assert error["details"]["max_bytes"] == 300_000


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b'{"foo": 1}', 422, "unsupported_format"),
        (b"[1, 2, 3]", 422, "unsupported_format"),
        (b'"just a string"', 422, "unsupported_format"),
        (GOOD[:-30], 400, "invalid_json"),  # broken after the first item: nothing imported
        (GOOD[:-1] + b', {"mapping": ', 400, "invalid_json"),
        (b"PK\x03\x04 not really a zip", 422, "invalid_zip"),
        (b"", 422, "empty_file"),
    ],
)
async def test_json_refused(client: httpx.AsyncClient, data: bytes, status: int, code: str) -> None:
    user = await signup(client)
    kind = "application/zip" if data.startswith(b"PK") else "application/json"
    assert_error(await upload(client, user, data, content_type=kind), status, code)
    assert await conversations(client, user) == {}


async def test_one_broken_conversation_is_skipped_not_fatal(client: httpx.AsyncClient) -> None:
    user: Account = await signup(client)
    broken = chatgpt_data.trip()
    broken["conversation_id"] = broken["id"] = "conv-bad-role"
    broken["mapping"]["u1"]["message"]["author"]["role"] = "wizard"
    response = await upload(client, user, json.dumps([broken, chatgpt_data.photo()]).encode())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["conversations"] == {"imported": 1, "skipped": 1}
    assert report["skipped"][0]["reason"] == "invalid_role"
    assert report["skipped"][0]["id"] == "conv-bad-role"
    assert set(await conversations(client, user)) == {"Bird photo"}
    # The idempotency ledger does not hold the skipped one: fixed, it imports.
    broken["mapping"]["u1"]["message"]["author"]["role"] = "user"
    response = await upload(client, user, json.dumps([broken, chatgpt_data.photo()]).encode())
    assert response.json()["conversations"] == {"imported": 1, "skipped": 1}
    assert set(await conversations(client, user)) == {"Bird photo", "Trip to Lisbon"}


MANIFEST = json.dumps({"format": "convobase-export", "version": 1}).encode()


async def test_a_convobase_export_is_held_to_the_byte_limits_not_the_ratio(
    client: httpx.AsyncClient, app: Any
) -> None:
    """Our own format may compress beyond any ratio; its bytes still meet every limit."""
    user = await signup(client)
    settings = app.state.runtime.settings
    # 2 MB of spaces in one conversation: ratio ~1000, within the item limit it is imported...
    conversation = (
        b'{"format": "convobase-conversation", "version": 1, "id": "c1", "title": "Spacious",'
        b' "created_at": "2024-05-01T10:00:00Z", "messages": [{"id": "m1", "role": "user",'
        b' "parts": [{"type": "text", "text": "hi"}], "content": "hi",'
        b' "created_at": "2024-05-01T10:00:00Z"}]' + b" " * 2_000_000 + b"}"
    )
    archive = zipped({"manifest.json": MANIFEST, "conversations/a.json": conversation})
    response = await upload(client, user, archive, "export.zip", "application/zip")
    assert response.status_code == 200, response.text
    assert response.json()["conversations"] == {"imported": 1, "skipped": 0}
    other = await signup(client)
    # ...beyond the item limit it is a bomb, found while decompressing.
    settings.import_max_item_bytes = 1_000_000
    error = assert_error(
        await upload(client, other, archive, "export.zip", "application/zip"), 422, "zip_bomb"
    )
    assert error["details"]["entry"] == "conversations/a.json"
    # And the declared total is checked before anything is read.
    settings.import_zip_max_bytes = 1_000_000
    assert_error(
        await upload(client, other, archive, "export.zip", "application/zip"), 413, "zip_too_large"
    )
    assert await conversations(client, other) == {}


async def test_imported_files_are_typed_from_their_bytes_like_uploads(
    client: httpx.AsyncClient,
) -> None:
    """files.jsonl's types are claims, as a client's are: never stored or served verbatim."""
    user = await signup(client)
    html = b"<!doctype html><script>alert(document.cookie)</script>\n"
    entries = {
        # (filename, bytes, content_type in files.jsonl)
        "f1": ("notes.txt", b"plain notes\n", "text/plain\r\nX-Injected: 1"),
        "f2": ("page.txt", html, "text/plain"),
        "f3": ("tool.exe", b"MZ" + b"\x00" * 200, "application/x-msdownload"),
    }
    lines, files = [], {}
    for file_id, (name, data, content_type) in entries.items():
        path = f"files/{file_id}/{name}"
        files[path] = data
        lines.append(
            json.dumps(
                {
                    "id": file_id,
                    "filename": name,
                    "content_type": content_type,
                    "claimed_type": content_type,
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "created_at": "2024-05-01T10:00:00Z",
                    "path": path,
                }
            )
        )
    archive = zipped({"manifest.json": MANIFEST, "files.jsonl": "\n".join(lines).encode(), **files})
    response = await upload(client, user, archive, "export.zip", "application/zip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["files"] == {"imported": 2, "skipped": 1}
    assert [s["reason"] for s in report["skipped"]] == ["type_not_allowed"]
    listed = (await client.get("/api/v1/files", headers=user.headers)).json()["data"]
    types = {f["filename"]: (f["content_type"], f["claimed_type"]) for f in listed}
    assert types == {"notes.txt": ("text/plain", None), "page.txt": ("text/html", "text/plain")}
    for f in listed:
        content = await client.get(f"/api/v1/files/{f['id']}/content", headers=user.headers)
        assert "x-injected" not in content.headers
        if f["filename"] == "page.txt":
            assert content.headers["content-disposition"].startswith("attachment")

"""Export an account, import it into a fresh database (and fresh blob storage), compare.

The comparison is of the two exports (the original account's and the imported account's),
with ids replaced by positions: titles, tree shape, roles, parts, content, metadata (model,
tokens, cost), statuses, times, edits, feedback, tool runs, logs, files (bytes included) and
preferences must all match.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from convobase.app import create_app
from convobase.config import Settings
from tests.conftest import truncate_postgres
from tests.helpers import Account, append, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


async def build_account(client: httpx.AsyncClient) -> Account:
    user = await signup(client, name="Ada")
    h = user.headers
    c = await new_conversation(
        client,
        user,
        title="Rust lifetimes",
        tags=["rust", "learning"],
        model="gpt-4o",
        system_prompt="Be brief.",
        settings={"temperature": 0.3},
        pinned=True,
    )
    cid = c["id"]
    q = await append(client, user, cid, "What is a lifetime?")
    a = await append(
        client,
        user,
        cid,
        "A scope for references.",
        role="assistant",
        metadata={"model": "gpt-4o", "input_tokens": 12, "output_tokens": 7, "cost_usd": 0.0004},
    )
    r = await client.patch(
        f"/api/v1/conversations/{cid}/messages/{a['id']}",
        headers=h,
        json={"content": "A region of code where a reference is valid."},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/conversations/{cid}/messages/{a['id']}/feedback",
        headers=h,
        json={"rating": "up", "comment": "clear"},
    )
    assert r.status_code in (200, 201), r.text
    # A second branch: the question asked differently.
    await append(client, user, cid, "Explain lifetimes like I'm five", parent_id=None)
    up = await client.post(
        "/api/v1/files",
        headers=h,
        files={"file": ("notes.txt", b"borrow checker notes\n" * 100, "text/plain")},
        data={"conversation_id": cid},
    )
    assert up.status_code == 201, up.text
    file_id = up.json()["id"]
    await append(
        client,
        user,
        cid,
        parts=[{"type": "text", "text": "See my notes"}, {"type": "file", "file_id": file_id}],
        parent_id=q["id"],
        content=None,
    )
    run = await client.post(
        f"/api/v1/conversations/{cid}/tool-runs",
        headers=h,
        json={"name": "search", "input": {"q": "lifetimes"}, "message_id": a["id"]},
    )
    assert run.status_code == 201, run.text
    r = await client.post(
        f"/api/v1/conversations/{cid}/logs", headers=h, json={"message": "planned", "level": "info"}
    )
    assert r.status_code == 201, r.text
    await new_conversation(client, user, title="Empty one")
    r = await client.patch(
        "/api/v1/preferences",
        headers={**h, "Content-Type": "application/merge-patch+json"},
        content=json.dumps({"theme": "dark", "font_size": 18}),
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/usage/events",
        headers=h,
        json={"provider": "openai", "model": "gpt-4o", "input_tokens": 12, "output_tokens": 7},
    )
    assert r.status_code == 201, r.text
    return user


async def export(client: httpx.AsyncClient, user: Account) -> bytes:
    response = await client.get("/api/v1/export", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    return response.content


def normalised(data: bytes) -> dict[str, Any]:
    """The export's content with every id replaced by something stable across servers."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    files = [json.loads(line) for line in archive.read("files.jsonl").splitlines()]
    file_names = {f["id"]: f["filename"] for f in files}
    out: dict[str, Any] = {"conversations": {}, "files": {}}
    for name in archive.namelist():
        if not (name.startswith("conversations/") and name.endswith(".json")):
            continue
        c = json.loads(archive.read(name))
        assert archive.read(name[:-5] + ".md").decode().startswith("# ")
        order = {m["id"]: i for i, m in enumerate(c["messages"])}
        for m in c["messages"]:
            m["id"] = order[m["id"]]
            m["parent_id"] = order.get(m["parent_id"])
            for part in m["parts"]:
                if "file_id" in part:
                    part["file_id"] = file_names[part["file_id"]]
        c["current_leaf_id"] = order.get(c["current_leaf_id"])
        for run in c["tool_runs"]:
            run["id"] = None
            run["message_id"] = order.get(run["message_id"])
        for log in c["logs"]:
            log["id"] = None
        c.pop("id"), c.pop("updated_at")
        out["conversations"][c["title"]] = c
    for f in files:
        f.pop("id"), f.pop("path")
        f["conversation_id"] = f["conversation_id"] is not None
        f["message_id"] = f["message_id"] is not None
        f["bytes"] = archive.read(
            next(
                n
                for n in archive.namelist()
                if n.startswith("files/") and n.endswith("/" + f["filename"])
            )
        )
        out["files"][f["filename"]] = f
    out["preferences"] = json.loads(archive.read("preferences.json"))["data"]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "convobase-export" and manifest["version"] == 1
    out["counts"] = manifest["counts"]
    return out


async def fresh_settings(
    settings: Settings, engine_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    update: dict[str, Any] = {"data_dir": tmp_path / "fresh"}
    if engine_kind == "sqlite":
        path = tmp_path / "fresh.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        update["database_url"] = f"sqlite+aiosqlite:///{path}"
    else:
        await truncate_postgres(settings.resolved_database_url)
    return settings.model_copy(update=update)


async def test_export_then_import_into_a_fresh_database(
    client: httpx.AsyncClient,
    settings: Settings,
    engine_kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    user = await build_account(client)
    original = await export(client, user)
    before = normalised(original)
    assert before["counts"]["conversations"] == 2 and before["counts"]["messages"] == 4
    assert before["counts"]["usage_events"] == 1

    app = create_app(await fresh_settings(settings, engine_kind, tmp_path, request))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
            newcomer = await signup(fresh, user.email)
            response = await fresh.post(
                "/api/v1/import",
                headers=newcomer.headers,
                files={"file": ("export.zip", original, "application/zip")},
            )
            assert response.status_code == 200, response.text
            report = response.json()
            assert report["source"] == "convobase"
            assert report["conversations"] == {"imported": 2, "skipped": 0}
            assert report["messages"]["imported"] == 4
            assert report["files"] == {"imported": 1, "skipped": 0}
            assert report["preferences"] == "restored"
            assert report["usage_events"]["skipped"] == 1
            after = normalised(await export(fresh, newcomer))
            assert after["conversations"] == before["conversations"]
            assert after["files"] == before["files"]
            assert (
                after["preferences"] == before["preferences"] == {"theme": "dark", "font_size": 18}
            )
            # Searchable, and the file's bytes come back from the new storage.
            hits = await fresh.get(
                "/api/v1/search", params={"q": "region"}, headers=newcomer.headers
            )
            assert len(hits.json()["data"]) == 1
            listed = (await fresh.get("/api/v1/files", headers=newcomer.headers)).json()["data"]
            content = await fresh.get(
                f"/api/v1/files/{listed[0]['id']}/content", headers=newcomer.headers
            )
            assert content.content == b"borrow checker notes\n" * 100
            # Importing the export again brings nothing new.
            again = await fresh.post(
                "/api/v1/import",
                headers=newcomer.headers,
                files={"file": ("export.zip", original, "application/zip")},
            )
            assert again.json()["conversations"] == {"imported": 0, "skipped": 2}
            assert again.json()["files"] == {"imported": 0, "skipped": 1}
            assert (
                normalised(await export(fresh, newcomer))["conversations"]
                == before["conversations"]
            )


# A 44 MB log of one line repeated: it deflates about as well as the fuzzer's 45 MB text file
# (ratio ~340 against CONVOBASE_IMPORT_ZIP_MAX_RATIO's 200).
LARGE_TEXT = b"2024-05-01T12:00:00Z INFO request served in 3 ms\n" * 900_000


async def test_an_export_with_a_large_compressible_file_imports_into_a_fresh_server(
    client: httpx.AsyncClient,
    settings: Settings,
    engine_kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    user = await signup(client)
    uploaded = await client.post(
        "/api/v1/files",
        headers=user.headers,
        files={"file": ("server.log", LARGE_TEXT, "text/plain")},
    )
    assert uploaded.status_code == 201, uploaded.text
    original = await export(client, user)
    entry = next(
        i for i in zipfile.ZipFile(io.BytesIO(original)).infolist() if i.filename.endswith(".log")
    )
    assert entry.file_size / entry.compress_size > settings.import_zip_max_ratio

    app = create_app(await fresh_settings(settings, engine_kind, tmp_path, request))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
            newcomer = await signup(fresh, user.email)
            response = await fresh.post(
                "/api/v1/import",
                headers=newcomer.headers,
                files={"file": ("export.zip", original, "application/zip")},
            )
            assert response.status_code == 200, response.text
            assert response.json()["files"] == {"imported": 1, "skipped": 0}
            listed = (await fresh.get("/api/v1/files", headers=newcomer.headers)).json()["data"]
            assert [(f["filename"], f["size"]) for f in listed] == [("server.log", len(LARGE_TEXT))]
            content = await fresh.get(
                f"/api/v1/files/{listed[0]['id']}/content", headers=newcomer.headers
            )
            assert content.content == LARGE_TEXT

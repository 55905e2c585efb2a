"""The export reads conversations a batch at a time: every row lands in its own conversation,
whether a batch holds one conversation or many."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest

from convobase.transfer import export
from tests.helpers import append, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


@pytest.mark.parametrize("batch_messages", [1, 5_000])
async def test_rows_stay_with_their_conversation(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, batch_messages: int
) -> None:
    monkeypatch.setattr(export, "BATCH_MESSAGES", batch_messages)
    user = await signup(client)
    other = await signup(client)
    await append(client, other, (await new_conversation(client, other))["id"], "not mine")
    expected: dict[str, dict[str, object]] = {}
    for n in range(3):
        cid = (await new_conversation(client, user, title=f"c{n}"))["id"]
        question = await append(client, user, cid, f"question {n}")
        answer = await append(client, user, cid, f"answer {n}", role="assistant")
        edited = await client.patch(
            f"/api/v1/conversations/{cid}/messages/{question['id']}",
            headers=user.headers,
            json={"content": f"question {n}, edited"},
        )
        assert edited.status_code == 200, edited.text
        rating = "up" if n % 2 else "down"
        fb = await client.post(
            f"/api/v1/conversations/{cid}/messages/{answer['id']}/feedback",
            headers=user.headers,
            json={"rating": rating},
        )
        assert fb.status_code in (200, 201), fb.text
        run = await client.post(
            f"/api/v1/conversations/{cid}/tool-runs", headers=user.headers, json={"name": f"t{n}"}
        )
        assert run.status_code == 201, run.text
        log = await client.post(
            f"/api/v1/conversations/{cid}/logs", headers=user.headers, json={"message": f"l{n}"}
        )
        assert log.status_code == 201, log.text
        expected[cid] = {"n": n, "rating": rating}

    response = await client.get("/api/v1/export", headers=user.headers)
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = [n for n in archive.namelist() if n.startswith("conversations/") and n[-5:] == ".json"]
    assert len(names) == 3
    for name in names:
        data = json.loads(archive.read(name))
        n = expected[data["id"]]["n"]
        assert [m["content"] for m in data["messages"]] == [f"question {n}, edited", f"answer {n}"]
        assert [len(m["edits"]) for m in data["messages"]] == [1, 0]
        feedback = data["messages"][1]["feedback"]
        assert feedback is not None and feedback["rating"] == expected[data["id"]]["rating"]
        assert [r["name"] for r in data["tool_runs"]] == [f"t{n}"]
        assert [entry["message"] for entry in data["logs"]] == [f"l{n}"]

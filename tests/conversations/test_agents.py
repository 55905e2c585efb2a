"""Tool runs through their lifecycle, and agent logs with filters."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


async def test_tool_run_lifecycle(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    message = await append(client, user, conversation["id"], "search the web", role="assistant")
    base = f"/api/v1/conversations/{conversation['id']}/tool-runs"
    created = await client.post(
        base,
        headers=user.headers,
        json={"name": "web_search", "input": {"q": "convobase"}, "message_id": message["id"]},
    )
    assert created.status_code == 201
    run = created.json()
    assert run["status"] == "pending" and run["started_at"] is None
    running = (
        await client.patch(f"{base}/{run['id']}", headers=user.headers, json={"status": "running"})
    ).json()
    assert running["started_at"] is not None
    done = (
        await client.patch(
            f"{base}/{run['id']}",
            headers=user.headers,
            json={"status": "completed", "output": {"hits": 3}, "tokens": 120},
        )
    ).json()
    assert done["status"] == "completed" and done["output"] == {"hits": 3}
    assert done["finished_at"] is not None and done["duration_ms"] >= 0
    assert_error(
        await client.patch(f"{base}/{run['id']}", headers=user.headers, json={"status": "running"}),
        409,
        "invalid_transition",
    )
    assert_error(
        await client.patch(f"{base}/{run['id']}", headers=user.headers, json={"output": "changed"}),
        409,
        "invalid_transition",
    )
    failed = (
        await client.post(base, headers=user.headers, json={"name": "python", "status": "running"})
    ).json()
    await client.patch(
        f"{base}/{failed['id']}",
        headers=user.headers,
        json={"status": "failed", "error": "Timeout"},
    )
    listed = (await client.get(base, headers=user.headers)).json()["data"]
    assert [r["name"] for r in listed] == ["web_search", "python"]
    only_failed = (await client.get(f"{base}?status=failed", headers=user.headers)).json()
    assert [r["error"] for r in only_failed["data"]] == ["Timeout"]
    got = await client.get(f"{base}/{run['id']}", headers=user.headers)
    assert got.json()["tokens"] == 120
    for bad in (
        {"name": ""},
        {"name": "x", "status": "exploded"},
        {"name": "x", "input": "y" * 300_000},
        {"name": "x", "message_id": run["id"]},
    ):
        assert_error(await client.post(base, headers=user.headers, json=bad), 422)


async def test_logs_with_filters_and_pages(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    base = f"/api/v1/conversations/{conversation['id']}/logs"
    for level, kind in (("info", "step"), ("error", "tool"), ("debug", "step"), ("info", "tool")):
        response = await client.post(
            base,
            headers=user.headers,
            json={"level": level, "type": kind, "message": f"{level} {kind}", "details": {"n": 1}},
        )
        assert response.status_code == 201
    assert len((await client.get(base, headers=user.headers)).json()["data"]) == 4
    errors = (await client.get(f"{base}?level=error", headers=user.headers)).json()["data"]
    assert [e["message"] for e in errors] == ["error tool"]
    tools = (await client.get(f"{base}?type=tool&limit=1", headers=user.headers)).json()
    assert [e["message"] for e in tools["data"]] == ["error tool"]
    more = (
        await client.get(
            f"{base}?type=tool&limit=1&cursor={tools['next_cursor']}", headers=user.headers
        )
    ).json()
    assert [e["message"] for e in more["data"]] == ["info tool"]
    assert_error(
        await client.post(base, headers=user.headers, json={"level": "loud", "message": "x"}), 422
    )
    assert_error(await client.post(base, headers=user.headers, json={"message": ""}), 422)
    assert_error(await client.get(f"{base}?since=yesterday", headers=user.headers), 422)

"""Everything users wrote renders as text on every page that shows it: titles, tags, tool runs,
file names and previews, usage model and provider names, and names and emails in the admin."""

from __future__ import annotations

from typing import Any

from tests.console.conftest import LiveServer, api, make_admin, sign_up, unique_email

PAYLOAD = "<img src=x onerror=alert(1)>"


def test_user_text_is_escaped_everywhere(page: Any, live_server: LiveServer) -> None:
    email = unique_email("esc")
    sign_up(page, email, name=PAYLOAD)
    made = api(page, "POST", "/api/v1/conversations", {"title": PAYLOAD, "tags": ["<b>t</b>"]})
    cid = made["id"]
    api(
        page,
        "POST",
        f"/api/v1/conversations/{cid}/messages",
        {"role": "assistant", "content": f"{PAYLOAD} [x](javascript:alert(1))"},
    )
    api(
        page,
        "POST",
        f"/api/v1/conversations/{cid}/tool-runs",
        {"name": PAYLOAD, "input": {"q": PAYLOAD}},
    )
    api(
        page,
        "POST",
        "/api/v1/usage/events",
        {"provider": "p<i>x</i>", "model": PAYLOAD, "input_tokens": 1, "latency_ms": 5},
    )
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    uploaded = page.request.post(
        "/api/v1/files",
        multipart={
            "conversation_id": cid,
            "file": {
                "name": f"{PAYLOAD}.txt",
                "mimeType": "text/plain",
                "buffer": f"{PAYLOAD}\n".encode(),
            },
        },
        headers={"X-CSRF-Token": cookies["convobase_csrf"]},
    )
    assert uploaded.ok, uploaded.text()
    make_admin(live_server, email)
    for path in [
        "/console/",
        f"/console/c/{cid}",
        "/console/search?q=onerror",
        "/console/files",
        f"/console/files/{uploaded.json()['id']}",
        "/console/usage",
        "/console/admin",
        f"/console/admin/users?email={email[:10]}",
    ]:
        page.goto(path)
        assert page.locator("img[src='x'], b, i").count() == 0, path
        assert page.locator("a[href^='javascript']").count() == 0, path
        assert PAYLOAD in page.locator("body").inner_text(), path
    assert page.dialogs == [] and page.csp_errors == []

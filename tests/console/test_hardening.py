"""The console's edges over plain HTTP (no browser): security headers on every response,
cookies under https, open redirects, clear refusals for bad input, times in the user's time
zone, messages past the newest page, and previews of non-image files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from convobase.console import conversation as conversation_page
from tests.console.conftest import PASSWORD, LiveServer, unique_email


class Console(httpx.Client):
    csrf: str


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[Console]:
    """A signed-in user, as a browser would send it: the cookie plus a same-origin Origin."""
    with Console(
        base_url=live_server.base, headers={"Origin": live_server.base}, timeout=30
    ) as client:
        signed = client.post(
            "/api/v1/auth/signup", json={"email": unique_email("edge"), "password": PASSWORD}
        )
        assert signed.status_code == 201
        client.csrf = _token(client.get("/console/").text)
        yield client


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _api(client: Console, method: str, path: str, body: object = None) -> dict[str, object]:
    response = client.request(
        method, path, json=body, headers={"X-CSRF-Token": client.cookies["convobase_csrf"]}
    )
    assert response.is_success, response.text
    return response.json() if response.content else {}


def _assert_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, (
        response.request.url,
        response.status_code,
    )
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("x-frame-options") == "DENY"


def test_every_console_response_carries_the_csp(live_server: LiveServer, client: Console) -> None:
    anonymous = httpx.get(f"{live_server.base}/")
    assert anonymous.status_code == 307
    _assert_headers(anonymous)
    _assert_headers(httpx.get(f"{live_server.base}/console/settings"))  # 303 to sign in
    static = httpx.get(f"{live_server.base}/console/static/console.css")
    _assert_headers(static)
    assert "no-store" not in static.headers.get("cache-control", "")  # assets stay cacheable
    posted = client.post("/console/conversations", data={"csrf_token": client.csrf})
    assert posted.status_code == 303
    _assert_headers(posted)
    refused = client.post("/console/conversations", data={"title": "no token"})
    assert refused.status_code == 403
    _assert_headers(refused)
    _assert_headers(client.get("/console/usage?days=0"))


def test_console_cookies_are_secure_under_https(live_server: LiveServer) -> None:
    https = {"X-Forwarded-Proto": "https"}  # uvicorn trusts it from loopback
    with httpx.Client(base_url=live_server.base, headers=https) as client:
        form = client.get("/console/login")
        nonce = form.headers["set-cookie"]
        assert "convobase_console_nonce=" in nonce and "Secure" in nonce, nonce
        refused = client.post(
            "/console/login",
            data={"csrf_token": _token(form.text), "email": "no@example.com", "password": "x" * 12},
            headers={"Origin": "https://" + live_server.base.split("://")[1]},
        )
        assert refused.status_code == 303
        flash = refused.headers["set-cookie"]
        assert "convobase_flash=" in flash and "Secure" in flash and "HttpOnly" in flash, flash


@pytest.mark.parametrize(
    "target", ["//evil.example/", "/\\evil.example", "https://evil.example/console/", "/api/v1/x"]
)
def test_sign_in_never_redirects_off_the_console(live_server: LiveServer, target: str) -> None:
    email = unique_email("next")
    with httpx.Client(base_url=live_server.base, headers={"Origin": live_server.base}) as client:
        assert (
            client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
        ).status_code == 201
        client.cookies.clear()
        form = client.get("/console/login", params={"next": target})
        assert target not in form.text
        signed = client.post(
            "/console/login",
            data={
                "csrf_token": _token(form.text),
                "email": email,
                "password": PASSWORD,
                "next": target,
            },
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/console/"


def test_bad_query_values_get_a_clear_400(client: Console) -> None:
    for path, field in [
        ("/console/usage?days=0", "days"),
        ("/console/usage?days=soon", "days"),
        ("/console/?show=everything", "show"),
    ]:
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert field in response.text and "text/html" in response.headers["content-type"]
    # A malformed id in the path names nothing: the same 404 as a foreign id.
    assert client.get("/console/c/not-an-id").status_code == 404


def test_search_refusals_show_in_the_results(client: Console) -> None:
    live = client.get("/console/search", params={"q": '"'}, headers={"HX-Request": "true"})
    # htmx swaps only 2xx answers: the message must arrive as a fragment it will show.
    assert live.status_code == 200 and "<html" not in live.text
    assert "at least one word" in live.text
    long = client.get("/console/search", params={"q": "word " * 120})
    assert long.status_code == 400 and "500 characters" in long.text
    assert 'maxlength="500"' in long.text  # the box itself stops at the server's limit


def test_times_follow_the_users_time_zone(client: Console) -> None:
    _api(client, "PATCH", "/api/v1/preferences", {"timezone": "Asia/Tokyo"})
    made = _api(client, "POST", "/api/v1/conversations", {"title": "tz"})
    message = _api(
        client,
        "POST",
        f"/api/v1/conversations/{made['id']}/messages",
        {"role": "user", "content": "when?"},
    )
    created = datetime.fromisoformat(str(message["created_at"]).replace("Z", "+00:00"))
    local = created.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    page = client.get(f"/console/c/{made['id']}")
    assert f">{local}</time>" in page.text, local
    assert created.isoformat()[:16] in page.text  # the machine-readable datetime stays exact


def test_messages_older_than_the_newest_page_are_reachable(
    client: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation_page, "PATH_LIMIT", 3)  # the server runs in this process
    made = _api(client, "POST", "/api/v1/conversations", {"title": "long"})
    for n in range(7):
        _api(
            client,
            "POST",
            f"/api/v1/conversations/{made['id']}/messages",
            {"role": "user", "content": f"message number {n}"},
        )
    seen: list[str] = []
    url: str | None = f"/console/c/{made['id']}"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen = re.findall(r"<p>message number (\d)</p>", page.text) + seen
        older = re.search(r'href="([^"]+)"[^>]*>Earlier messages', page.text)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert seen == [str(n) for n in range(7)]


def test_text_files_show_their_first_lines(client: Console) -> None:
    made = _api(client, "POST", "/api/v1/conversations", {"title": "with a file"})
    body = "".join(f"line {n} <b>bold</b>\n" for n in range(40))
    uploaded = client.post(
        "/api/v1/files",
        files={"file": ("notes.txt", body.encode(), "text/plain")},
        data={"conversation_id": str(made["id"])},
        headers={"X-CSRF-Token": client.cookies["convobase_csrf"]},
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    for page in (client.get(f"/console/files/{file_id}"), client.get(f"/console/c/{made['id']}")):
        assert "line 0 &lt;b&gt;bold&lt;/b&gt;" in page.text
        assert "line 3 " in page.text and "line 39" not in page.text  # the first lines only


def test_htmx_requests_without_a_session_send_the_page_to_sign_in(
    live_server: LiveServer,
) -> None:
    # The sidebar's next page or the live search after the session ended: htmx would follow a
    # 303 and swap the whole sign-in page into the list; HX-Redirect moves the page instead.
    response = httpx.get(
        f"{live_server.base}/console/conversations?show=recent", headers={"HX-Request": "true"}
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/console/login?next=%2Fconsole%2Fconversations"
    _assert_headers(response)


def test_a_crash_on_a_console_page_is_an_html_page(
    client: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convobase.console import usage

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(usage, "dashboard", broken)  # the server runs in this process
    response = client.get("/console/usage")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in response.text and "boom" not in response.text
    _assert_headers(response)
    assert client.get("/api/v1/nope").headers["content-type"].startswith("application/json")

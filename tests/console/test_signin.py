"""Sign up, sign out, sign in in a real browser; CSP, CSRF and stored XSS."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.console.conftest import (
    PASSWORD,
    LiveServer,
    screenshot,
    sign_up,
    unique_email,
)


def test_sign_up_sign_out_sign_in(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    page.wait_for_url("**/console/login**")  # not signed in: to the sign-in page
    screenshot(page, "login")
    email = unique_email()
    sign_up(page, email, name="Ada")
    assert page.get_by_text("New conversation").first.is_visible()
    assert page.locator(".who").inner_text() == "Ada"
    screenshot(page, "home")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/login")
    assert page.get_by_text("Signed out").is_visible()
    page.goto("/console/search")
    page.wait_for_url("**/console/login?next=%2Fconsole%2Fsearch")

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong-password-123")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/login**")
    assert page.get_by_role("alert").inner_text() == "Wrong email or password"

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/search")
    assert page.csp_errors == []


def test_signup_refusal_is_shown(page: Any) -> None:
    page.goto("/console/signup")
    page.get_by_label("Email").fill(unique_email())
    page.get_by_label("Password").fill("short")
    # The browser's own minlength check is bypassed: the server's policy must answer.
    page.locator("#password").evaluate("e => e.removeAttribute('minlength')")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/console/signup")
    assert "password" in page.get_by_role("alert").inner_text().lower()


def test_stored_xss_renders_as_text(page: Any) -> None:
    sign_up(page, unique_email("xss"))
    payload = '<script>alert(1)</script> <img src=x onerror="alert(2)"> [x](javascript:alert(3))'
    page.get_by_label("Title").fill("<b>bold title</b><script>alert(4)</script>")
    page.get_by_label("First message").fill(payload)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r".*/console/c/[0-9a-f-]+$"))
    body = page.locator(".message-body").first
    assert "<script>alert(1)</script>" in body.inner_text()
    assert 'onerror="alert(2)"' in body.inner_text()
    assert body.locator("img, script, a").count() == 0
    assert page.get_by_role("heading", level=1).inner_text() == (
        "<b>bold title</b><script>alert(4)</script>"
    )
    page.reload()
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.csp_errors == []


def test_pages_carry_a_strict_csp(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.base}/console/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text and "style=" not in response.text
    static = httpx.get(f"{live_server.base}/console/static/console.css")
    assert static.status_code == 200 and "text/css" in static.headers["content-type"]
    assert 'rel="icon" href="/console/static/favicon.svg"' in response.text
    icon = httpx.get(f"{live_server.base}/console/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    # The API keeps its own JSON errors; console paths answer HTML.
    assert (
        httpx.get(f"{live_server.base}/api/v1/nope")
        .headers["content-type"]
        .startswith("application/json")
    )
    missing = httpx.get(f"{live_server.base}/console/nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


def test_forms_need_the_csrf_token(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.base) as client:
        email = unique_email("csrf")
        created = client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201
        origin = {"Origin": live_server.base}
        page = client.get("/console/")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token is not None
        # Same origin but no token: refused, nothing created.
        refused = client.post("/console/conversations", data={"title": "x"}, headers=origin)
        assert refused.status_code == 403
        wrong = client.post(
            "/console/conversations", data={"title": "x", "csrf_token": "0" * 64}, headers=origin
        )
        assert wrong.status_code == 403
        # A token but a foreign origin: refused by the API's own cookie check.
        foreign = client.post(
            "/console/conversations",
            data={"title": "x", "csrf_token": token.group(1)},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert client.get("/api/v1/conversations").json()["data"] == []
        made = client.post(
            "/console/conversations",
            data={"title": "x", "csrf_token": token.group(1)},
            headers=origin,
        )
        assert made.status_code == 303
        assert len(client.get("/api/v1/conversations").json()["data"]) == 1


def test_login_form_needs_its_nonce(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.base) as client:
        response = client.post(
            "/console/login", data={"email": "a@example.com", "password": "x" * 12}
        )
        assert response.status_code == 303
        assert "convobase_session" not in response.cookies

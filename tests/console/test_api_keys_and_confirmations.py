"""A new API key comes back through a redirect (the key shown once, on a GET page a reload
cannot re-post), and every destructive button asks before it acts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from convobase.console import reveal
from tests.console.conftest import api, screenshot, sign_up, submit_confirmed, unique_email

TEMPLATES = Path(reveal.__file__).parent / "templates"


def test_new_api_key_is_shown_once_after_a_redirect(
    page: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    sign_up(page, unique_email("reveal"))
    page.goto("/console/settings/api-keys")
    page.get_by_label("Name").fill("deploy")
    with page.expect_navigation() as landed:
        page.get_by_role("button", name="Create key").click()
    response = landed.value
    posted = response.request.redirected_from
    assert posted is not None and posted.method == "POST"
    assert posted.response().status == 303
    assert response.request.method == "GET" and response.status == 200
    assert response.url.endswith("/console/settings/api-keys")

    key = page.locator("#new-key").inner_text()
    assert key.startswith("cbk_")
    assert page.get_by_role("status").first.inner_text()  # the "copy it now" notice
    assert key not in page.url
    assert all(key not in cookie["value"] for cookie in page.context.cookies())  # sealed
    assert page.request.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).ok
    screenshot(page, "api-key-created")

    page.reload()  # a GET: nothing is posted again, and the key is gone for good
    assert page.locator(".key-row").count() == 1
    assert page.locator("#new-key").count() == 0
    assert key not in page.content()
    assert len(api(page, "GET", "/api/v1/api-keys")["data"]) == 1
    out, err = capfd.readouterr()  # the server's logs (same process) never hold it
    assert key not in out and key not in err


def test_the_reveal_cookie_opens_only_in_its_session_and_only_briefly() -> None:
    secret, session, key_id = b"s" * 32, uuid.uuid4(), uuid.uuid4()
    sealed = reveal.seal(secret, session, key_id, "cbk_secret", now=1_000.0)
    assert "cbk_secret" not in sealed
    assert reveal.unseal(secret, session, sealed, now=1_010.0) == (key_id, "cbk_secret")
    assert reveal.unseal(secret, uuid.uuid4(), sealed, now=1_010.0) is None  # another session
    assert reveal.unseal(b"t" * 32, session, sealed, now=1_010.0) is None  # another server
    late = 1_000.0 + reveal.REVEAL_SECONDS + 1
    assert reveal.unseal(secret, session, sealed, now=late) is None
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert reveal.unseal(secret, session, tampered, now=1_010.0) is None
    assert reveal.unseal(secret, session, "not base64!", now=1_010.0) is None


def test_destructive_buttons_ask_first(page: Any) -> None:
    sign_up(page, unique_email("confirm"))
    made = api(page, "POST", "/api/v1/conversations", {"title": "Keep me unless I say so"})
    page.goto(f"/console/c/{made['id']}")
    delete = page.get_by_role("button", name="Delete conversation")
    delete.click()  # the dialog is dismissed: nothing happens
    assert len(page.dialogs) == 1 and "Keep me unless I say so" in page.dialogs[0]
    assert page.url.endswith(f"/console/c/{made['id']}")
    assert page.request.get(f"/api/v1/conversations/{made['id']}").status == 200

    question = submit_confirmed(page, delete)
    assert question == page.dialogs[0]
    assert page.get_by_role("status").inner_text() == "Conversation deleted"
    assert page.request.get(f"/api/v1/conversations/{made['id']}").status == 404

    api(page, "POST", "/api/v1/api-keys", {"name": "ci"})
    page.goto("/console/settings/api-keys")
    revoke = page.get_by_role("button", name="Revoke ci")
    revoke.click()
    assert len(page.dialogs) == 3 and "ci" in page.dialogs[2]
    assert page.locator(".key-row").count() == 1
    assert len(api(page, "GET", "/api/v1/api-keys")["data"]) == 1  # still live
    submit_confirmed(page, revoke)
    assert page.locator(".key-row").count() == 0
    assert api(page, "GET", "/api/v1/api-keys")["data"] == []
    assert page.csp_errors == []


# --- every destructive button in every template carries a confirmation ---------------------

_DESTRUCTIVE_ACTION = re.compile(r"/(delete|revoke|reset)$")
_DESTRUCTIVE_VALUES = {"disable", "role"}  # an admin disabling an account or changing a role


@dataclass
class _Form:
    action: str
    hidden: dict[str, str] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)


class _Forms(HTMLParser):
    """Forms and their submit buttons (also buttons tied to a form by its id)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self.by_id: dict[str, _Form] = {}
        self.detached: list[dict[str, str]] = []
        self.current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and values.get("method", "get").lower() == "post":
            self.current = _Form(values.get("action", ""))
            self.forms.append(self.current)
            if "id" in values:
                self.by_id[values["id"]] = self.current
        elif tag == "input" and values.get("type") == "hidden" and self.current:
            self.current.hidden[values.get("name", "")] = values.get("value", "")
        elif tag == "button" and values.get("type", "submit") == "submit":
            if "form" in values:
                self.detached.append(values)
            elif self.current is not None:
                self.current.buttons.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None


def _markup(template: Path) -> str:
    """The template's HTML with Jinja's expressions as placeholders and its tags dropped:
    both branches of an ``if`` stay in, so each is checked."""
    source = re.sub(r"{#.*?#}", "", template.read_text(), flags=re.S)
    source = re.sub(r"{{.*?}}", "X", source, flags=re.S)
    return re.sub(r"{%.*?%}", "", source, flags=re.S)


def _destructive(form: _Form, button: dict[str, str]) -> bool:
    return bool(
        "danger" in button.get("class", "").split()
        or _DESTRUCTIVE_ACTION.search(form.action)
        or button.get("value") in _DESTRUCTIVE_VALUES
        or form.hidden.get("action") in _DESTRUCTIVE_VALUES
    )


def test_every_destructive_button_asks_for_confirmation() -> None:
    checked: list[str] = []
    unconfirmed: list[str] = []
    for template in sorted(TEMPLATES.glob("*.html")):
        parser = _Forms()
        parser.feed(_markup(template))
        pairs = [(form, button) for form in parser.forms for button in form.buttons]
        pairs += [(parser.by_id[b["form"]], b) for b in parser.detached]
        for form, button in pairs:
            if not _destructive(form, button):
                continue
            where = f"{template.name}: {form.action} {button.get('aria-label') or ''}"
            checked.append(where)
            if not button.get("data-confirm", "").strip():
                unconfirmed.append(where)
    assert unconfirmed == []
    # Not a vacuous pass: the key, vault, session, file, conversation, preference and admin
    # buttons were all found.
    names = {entry.split(":")[0] for entry in checked}
    assert {
        "api_keys.html",
        "provider_keys.html",
        "sessions.html",
        "files.html",
        "conversation.html",
        "settings.html",
        "admin_users.html",
    } <= names, checked

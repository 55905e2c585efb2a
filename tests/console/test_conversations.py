"""Conversations in a real browser: create, send, search, branches, scroll, filters, feedback."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.console.conftest import api, screenshot, sign_up, submit, unique_email


def _open_new(page: Any, title: str, first: str, tags: str = "") -> str:
    page.goto("/console/")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Tags").fill(tags)
    page.get_by_label("First message").fill(first)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r".*/console/c/[0-9a-f-]+$"))
    return str(page.url.rsplit("/", 1)[1])


def test_create_send_search_and_switch_branches(page: Any) -> None:
    sign_up(page, unique_email("chat"))
    question = "Where should we go in **Lisbon**?"
    conversation_id = _open_new(page, "Trip planning", question, "travel")
    assert page.locator(".message-body strong").inner_text() == "Lisbon"

    composer = page.get_by_label("Message", exact=False).last
    composer.fill("Try the `tram 28` and:\n\n```python\nprint('pasteis')\n```")
    page.get_by_label("As").select_option("assistant")
    submit(page, page.get_by_role("button", name="Send"))
    assert page.locator(".flash").count() == 0, page.locator(".flash").inner_text()
    assert page.locator(".message").count() == 2
    assert "print('pasteis')" in page.locator(".message pre code").inner_text()

    # An alternative first question: a second branch at the root.
    page.locator(".branch-edit summary").first.click()
    page.get_by_label("New version").fill("What about Porto instead?")
    submit(page, page.get_by_role("button", name="Save as branch"))
    assert page.locator(".branch-count").inner_text() == "2 / 2"
    assert "Porto" in page.locator(".message-body").first.inner_text()
    assert page.locator(".message").count() == 1
    submit(page, page.get_by_role("button", name="Previous branch"))
    assert page.locator(".branch-count").inner_text() == "1 / 2"
    assert page.locator(".message").count() == 2  # back on the branch with the answer
    screenshot(page, "conversation")

    # Feedback on the answer.
    submit(page, page.get_by_role("button", name="Good answer"))
    assert page.get_by_role("button", name="Good answer").get_attribute("aria-pressed") == "true"

    # Live search (htmx) highlights the match; the page form works without it too.
    page.get_by_label("Search conversations").fill("pasteis")
    hit = page.locator("#search-results mark").first
    hit.wait_for()
    assert hit.inner_text().lower() == "pasteis"
    page.locator("#search-results a").first.click()
    page.wait_for_url(f"**/console/c/{conversation_id}**")
    page.goto("/console/search?q=Lisbon")
    assert page.locator(".results mark").first.inner_text() == "Lisbon"
    screenshot(page, "search")
    assert page.csp_errors == []


def test_sidebar_scrolls_filters_and_tags(page: Any) -> None:
    sign_up(page, unique_email("scroll"))
    for n in range(45):
        api(page, "POST", "/api/v1/conversations", {"title": f"Conversation {n:02d}"})
    pinned = api(page, "POST", "/api/v1/conversations", {"title": "Pinned one", "pinned": True})
    api(page, "POST", "/api/v1/conversations", {"title": "Old one", "archived": True})
    api(page, "POST", "/api/v1/conversations", {"title": "Tagged one", "tags": ["work"]})
    page.goto("/console/")
    rows = page.locator(".conversation-row")
    assert rows.count() == 30  # the first keyset page
    page.locator(".sidebar").evaluate("e => e.scrollTop = e.scrollHeight")
    expect(rows).to_have_count(47)
    page.locator(".sidebar").evaluate("e => e.scrollTop = e.scrollHeight")
    assert page.locator(".sidebar .more").count() == 0
    assert page.get_by_text("Old one").count() == 0

    page.get_by_role("link", name="Archived").click()
    page.wait_for_url("**show=archived")
    assert rows.first.inner_text().strip().startswith("Old one")
    assert rows.count() == 1
    page.get_by_role("link", name="Pinned").click()
    page.wait_for_url("**show=pinned")
    assert rows.count() == 1 and "Pinned one" in rows.first.inner_text()
    page.goto("/console/?tag=work")
    assert rows.count() == 1 and "Tagged one" in rows.first.inner_text()

    # Tool runs and their status on the conversation page.
    api(page, "POST", f"/api/v1/conversations/{pinned['id']}/tool-runs", {"name": "web_search"})
    page.goto(f"/console/c/{pinned['id']}")
    assert "web_search" in page.get_by_role("table").inner_text()
    # Archive from the manage form.
    page.get_by_label("Archived").check()
    submit(page, page.get_by_role("button", name="Save", exact=True))
    assert page.get_by_label("Archived").is_checked()


def test_foreign_conversation_is_not_found(page: Any, browser: Any, live_server: Any) -> None:
    sign_up(page, unique_email("owner"))
    mine = api(page, "POST", "/api/v1/conversations", {"title": "Private"})
    other = browser.new_context(base_url=live_server.base)
    try:
        tab = other.new_page()
        sign_up(tab, unique_email("other"))
        response = tab.goto(f"/console/c/{mine['id']}")
        assert response.status == 404
        assert tab.get_by_text("Private").count() == 0
        assert tab.goto("/console/c/not-a-uuid").status == 404
    finally:
        other.close()

"""Settings in a real browser: theme, presets, sessions, API keys and provider keys."""

from __future__ import annotations

from typing import Any

from tests.console.conftest import (
    LiveServer,
    screenshot,
    sign_in,
    sign_up,
    submit,
    submit_confirmed,
    unique_email,
)


def test_theme_follows_the_preference(page: Any) -> None:
    sign_up(page, unique_email("theme"))
    assert page.locator("html").get_attribute("class") == "theme-system"
    page.goto("/console/settings")
    page.get_by_label("Theme").select_option("dark")
    page.get_by_label("Temperature").fill("0.4")
    submit(page, page.get_by_role("button", name="Save preferences"))
    assert page.get_by_role("status").inner_text() == "Preferences saved"
    assert page.locator("html").get_attribute("class") == "theme-dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 20, 24)"  # the dark palette, applied
    assert page.get_by_label("Temperature").input_value() == "0.4"
    screenshot(page, "settings-dark")

    submit(page, page.get_by_role("button", name="Apply the developer preset"))
    assert page.get_by_label("Default domain").input_value() == "coding"
    page.locator("#temperature").evaluate("e => e.removeAttribute('max')")
    page.get_by_label("Temperature").fill("9")  # out of bounds: the server's schema refuses
    submit(page, page.get_by_role("button", name="Save preferences"))
    assert "temperature" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Temperature").input_value() == "0.4"

    page.emulate_media(color_scheme="dark")
    page.get_by_label("Theme").select_option("light")
    submit(page, page.get_by_role("button", name="Save preferences"))
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"


def test_revoke_another_session(page: Any, browser: Any, live_server: LiveServer) -> None:
    email = unique_email("sessions")
    sign_up(page, email)
    laptop = browser.new_context(base_url=live_server.base, user_agent="Laptop Browser/1.0")
    try:
        other = laptop.new_page()
        sign_in(other, email)
        page.goto("/console/settings/sessions")
        rows = page.locator(".session-row")
        assert rows.count() == 2
        screenshot(page, "sessions")
        laptop_row = rows.filter(has_text="Laptop Browser/1.0")
        submit_confirmed(page, laptop_row.get_by_role("button", name="Revoke"))
        assert page.get_by_role("status").inner_text() == "Session revoked"
        assert page.locator(".session-row").count() == 1
        other.goto("/console/")
        other.wait_for_url("**/console/login**")  # that device is signed out at once
    finally:
        laptop.close()


def test_api_key_shown_once_and_revoked(page: Any) -> None:
    sign_up(page, unique_email("keys"))
    page.goto("/console/settings/api-keys")
    page.get_by_label("Name").fill("ci <script>")
    submit(page, page.get_by_role("button", name="Create key"))
    key = page.locator("#new-key").inner_text()
    assert key.startswith("cbk_")
    assert page.get_by_role("cell", name="ci <script>", exact=True).is_visible()
    response = page.request.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert response.ok
    page.goto("/console/settings/api-keys")
    assert page.locator("#new-key").count() == 0  # never shown again
    assert key not in page.content()
    submit_confirmed(page, page.get_by_role("button", name="Revoke ci <script>"))
    assert page.locator(".key-row").count() == 0
    response = page.request.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 401


def test_provider_key_masked_and_deleted(page: Any) -> None:
    sign_up(page, unique_email("vault"))
    page.goto("/console/settings/provider-keys")
    secret = "sk-test-abcdefghijklmnop-WXYZ"
    page.get_by_label("Provider", exact=True).fill("openai")
    page.get_by_label("Key", exact=True).fill(secret)
    submit(page, page.get_by_role("button", name="Save key"))
    row = page.locator(".provider-row")
    assert row.count() == 1 and "••••WXYZ" in row.inner_text()
    assert secret not in page.content()
    page.get_by_label("Provider", exact=True).fill("Not Valid!")
    page.get_by_label("Key", exact=True).fill("x" * 20)
    submit(page, page.get_by_role("button", name="Save key"))
    assert "lower-case" in page.get_by_role("alert").inner_text()
    screenshot(page, "provider-keys")
    submit_confirmed(page, page.get_by_role("button", name="Delete the openai key"))
    assert page.locator(".provider-row").count() == 0

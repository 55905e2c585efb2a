"""Files, usage charts and the admin pages in a real browser."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.console.conftest import (
    LiveServer,
    api,
    make_admin,
    screenshot,
    sign_in,
    sign_up,
    submit,
    submit_confirmed,
    unique_email,
)


def _png() -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (64, 48), (200, 40, 90))
    image.putpixel((3, 3), (0, 0, 0))
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_upload_download_versions_delete(page: Any, tmp_path: Path) -> None:
    sign_up(page, unique_email("files"))
    page.goto("/console/files")
    notes = tmp_path / "notes.txt"
    notes.write_text("first version\n")
    page.get_by_label("File", exact=True).set_input_files(str(notes))
    submit(page, page.get_by_role("button", name="Upload"))
    assert page.get_by_role("status").inner_text() == "Uploaded notes.txt (version 1)"
    notes.write_text("second version, longer\n")
    page.get_by_label("File", exact=True).set_input_files(str(notes))
    submit(page, page.get_by_role("button", name="Upload"))
    assert "version 2" in page.get_by_role("status").inner_text()
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "red.png", "mimeType": "image/png", "buffer": _png()}]
    )
    submit(page, page.get_by_role("button", name="Upload"))
    assert page.locator(".file-row").count() == 3
    assert page.locator(".file-row img.thumb").count() == 1
    screenshot(page, "files")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download notes.txt").first.click()
    downloaded = Path(download_info.value.path())
    assert downloaded.read_text() == "second version, longer\n"

    page.get_by_role("link", name="notes.txt").first.click()
    page.wait_for_url("**/console/files/*")
    assert page.locator(".version-row").count() == 2
    with page.expect_download() as first_info:
        page.get_by_role("link", name="Download v1").click()
    assert Path(first_info.value.path()).read_text() == "first version\n"

    page.goto("/console/files")
    submit_confirmed(page, page.get_by_role("button", name="Delete red.png"))
    assert page.get_by_role("status").inner_text() == "File deleted"
    assert page.locator(".file-row").count() == 2


def _record_usage(page: Any, n: int) -> None:
    for i in range(n):
        api(
            page,
            "POST",
            "/api/v1/usage/events",
            {
                "provider": "openai" if i % 3 else "anthropic",
                "model": "gpt-4o-mini" if i % 3 else "claude-3-5-haiku-20241022",
                "input_tokens": 1000 + i,
                "output_tokens": 200,
                "latency_ms": 150 * (i + 1),
            },
        )


def test_usage_charts(page: Any) -> None:
    sign_up(page, unique_email("usage"))
    page.goto("/console/usage")
    assert page.locator("#chart-requests rect").count() == 30
    assert "no data in this period" in page.locator("figure").first.inner_text()
    _record_usage(page, 6)
    page.goto("/console/usage?days=7")
    bars = page.locator("#chart-requests rect")
    assert bars.count() == 7
    heights = [
        float(h or 0) for h in bars.evaluate_all("rs => rs.map(r => r.getAttribute('height'))")
    ]
    assert max(heights) > 100  # today's column, full height
    assert page.locator("#chart-providers text", has_text="openai").count() == 1
    assert page.locator("#chart-latency rect").count() >= 2
    assert page.locator(".stat", has_text="Requests").inner_text().endswith("6")
    screenshot(page, "usage")
    assert page.csp_errors == []


def test_admin_dashboard_and_disabling_a_user(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    admin_email, user_email = unique_email("admin"), unique_email("victim")
    sign_up(page, admin_email)
    assert page.get_by_role("link", name="Admin").count() == 0
    assert page.goto("/console/admin").status == 403
    make_admin(live_server, admin_email)

    other = browser.new_context(base_url=live_server.base)
    try:
        tab = other.new_page()
        sign_up(tab, user_email)
        _record_usage(tab, 3)

        page.goto("/console/")
        page.get_by_role("link", name="Admin").click()
        page.wait_for_url("**/console/admin")
        assert page.locator(".top-user", has_text=user_email).count() == 1
        assert page.locator("#chart-requests rect").count() == 30
        screenshot(page, "admin-usage")

        page.get_by_role("link", name="Users").click()
        page.get_by_label("Email starts with").fill(user_email[:12])
        submit(page, page.get_by_role("button", name="Filter"))
        row = page.locator(".user-row", has_text=user_email)
        row.get_by_label(f"Requests per day for {user_email}").fill("100")
        submit(page, row.get_by_role("button", name=f"Set the quota of {user_email}"))
        assert page.get_by_role("status").inner_text() == f"Quota set: {user_email}"
        page.goto("/console/admin/users")
        screenshot(page, "admin-users")
        row = page.locator(".user-row", has_text=user_email)
        assert "of 100" in row.inner_text(), row.inner_text()
        submit_confirmed(page, row.get_by_role("button", name=f"Disable {user_email}"))
        assert page.get_by_role("status").inner_text() == f"Disabled: {user_email}"
        assert "disabled" in page.locator(".user-row", has_text=user_email).inner_text()

        tab.goto("/console/")
        tab.wait_for_url("**/console/login**")  # refused on the very next request
        sign_in(tab, user_email)
        assert tab.get_by_role("alert").inner_text() == "This account is disabled"

        # The last active admin cannot disable themself: a clear refusal, not a 500.
        page.goto(f"/console/admin/users?email={admin_email[:12]}")
        me = page.locator(".user-row", has_text=admin_email)
        submit_confirmed(page, me.get_by_role("button", name=f"Disable {admin_email}"))
        assert "administrator" in page.get_by_role("alert").inner_text()
    finally:
        other.close()

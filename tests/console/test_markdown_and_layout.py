"""Safe Markdown (unit) and the phone-width layout (browser)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from convobase.console.markdown import render
from tests.console.conftest import api, screenshot, sign_up, unique_email


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox(1))",
        "![x](https://evil.example/track.png)",
        "<a href='https://ok.example' onclick='alert(1)'>x</a>",
    ],
)
def test_markdown_never_emits_active_markup(source: str) -> None:
    html = str(render(source))
    assert "<script" not in html and "<img" not in html
    assert "javascript:" not in html.lower().replace("[x](javascript:", "")
    assert 'href="data:' not in html and 'href="vbscript:' not in html
    assert re.search(r"<[a-z][^>]*\son\w+=", html) is None  # no tag carries a handler


def test_markdown_keeps_safe_links_and_code() -> None:
    html = str(render("[docs](https://example.com/a?b=1) <mailto:a@example.com>\n\n`x<y`"))
    assert '<a href="https://example.com/a?b=1" rel="nofollow noopener noreferrer"' in html
    assert 'href="mailto:a@example.com"' in html
    assert "<code>x&lt;y</code>" in html


def test_phone_width_has_no_horizontal_scroll(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_up(page, unique_email("phone"))
    made = api(page, "POST", "/api/v1/conversations", {"title": "On the go " + "long" * 30})
    api(
        page,
        "POST",
        f"/api/v1/conversations/{made['id']}/messages",
        {"role": "user", "content": "A very long word: " + "x" * 300},
    )
    for path in ("/console/", f"/console/c/{made['id']}", "/console/settings", "/console/usage"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px"
    screenshot(page, "phone-conversation")

"""How pages look, measured in the browser: the sticky sidebar, space between buttons, code
block captions, the error page, and chart labels. Each check also saves a screenshot."""

from __future__ import annotations

import uuid
from itertools import pairwise
from typing import Any

import pytest

from tests.console.conftest import LiveServer, api, screenshot, sign_up, unique_email

DARK_BACKGROUND = "rgb(17, 20, 24)"
LIGHT_BACKGROUND = "rgb(246, 247, 249)"


def _long_conversation(page: Any) -> str:
    made = api(page, "POST", "/api/v1/conversations", {"title": "A long read"})
    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 6
    for n in range(14):
        role = "user" if n % 2 == 0 else "assistant"
        api(
            page,
            "POST",
            f"/api/v1/conversations/{made['id']}/messages",
            {"role": role, "content": f"Message {n}. {paragraph}"},
        )
    return str(made["id"])


_SIDEBAR_BOX = """() => {
  const sidebar = document.querySelector('.sidebar').getBoundingClientRect();
  const header = document.querySelector('header.top').getBoundingClientRect();
  const at = (x, y) => document.elementFromPoint(x, y);
  const x = sidebar.left + 4;
  return {
    scrollY: window.scrollY, viewport: window.innerHeight,
    top: sidebar.top, bottom: sidebar.bottom, headerTop: header.top, headerBottom: header.bottom,
    bottomIsSidebar: !!at(x, window.innerHeight - 2)?.closest('.sidebar'),
    topIsChrome: !!at(x, 2)?.closest('.sidebar, header.top'),
  };
}"""


def test_sidebar_fills_the_viewport_height_while_scrolling(page: Any) -> None:
    sign_up(page, unique_email("sticky-with-a-rather-long-address"), name="Alexandra Long-Name")
    conversation_id = _long_conversation(page)
    page.goto(f"/console/c/{conversation_id}")
    before = page.evaluate(_SIDEBAR_BOX)
    assert abs(before["bottom"] - before["viewport"]) <= 1, before
    assert before["bottomIsSidebar"], before

    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    after = page.evaluate(_SIDEBAR_BOX)
    assert after["scrollY"] > 300, after  # the page really scrolled
    # From the top edge to the bottom edge: the header and the sidebar, no strip of page.
    assert after["headerTop"] == 0 and abs(after["top"] - after["headerBottom"]) <= 1, after
    assert abs(after["bottom"] - after["viewport"]) <= 1, after
    assert after["bottomIsSidebar"] and after["topIsChrome"], after
    screenshot(page, "sidebar-scrolled", full_page=False)
    page.emulate_media(color_scheme="dark")
    screenshot(page, "sidebar-scrolled-dark", full_page=False)

    # Just above the phone layout, a long name still leaves the header one line high.
    page.set_viewport_size({"width": 760, "height": 700})
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    narrow = page.evaluate(_SIDEBAR_BOX)
    assert narrow["headerTop"] == 0 and abs(narrow["top"] - narrow["headerBottom"]) <= 1, narrow
    assert abs(narrow["bottom"] - narrow["viewport"]) <= 1, narrow
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    screenshot(page, "sidebar-scrolled-760", full_page=False)


_CROWDED_BUTTONS = """() => {
  const seen = [...document.querySelectorAll('button, a.button')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
  });
  const name = e => (e.getAttribute('aria-label') || e.textContent).trim();
  const crowded = [];
  for (let i = 0; i < seen.length; i++) {
    for (let j = i + 1; j < seen.length; j++) {
      const a = seen[i].getBoundingClientRect(), b = seen[j].getBoundingClientRect();
      const dx = Math.max(b.left - a.right, a.left - b.right);
      const dy = Math.max(b.top - a.bottom, a.top - b.bottom);
      if (Math.max(dx, dy) < 8) crowded.push([name(seen[i]), name(seen[j]), dx, dy]);
    }
  }
  return {count: seen.length, crowded};
}"""


def test_buttons_never_touch(page: Any) -> None:
    sign_up(page, unique_email("spacing"))
    made = api(page, "POST", "/api/v1/conversations", {"title": "Spacing"})
    for role in ("user", "assistant"):
        api(
            page,
            "POST",
            f"/api/v1/conversations/{made['id']}/messages",
            {"role": role, "content": f"A {role} message"},
        )
    api(page, "POST", "/api/v1/api-keys", {"name": "ci"})
    api(page, "PUT", "/api/v1/provider-keys/openai", {"api_key": "sk-test-abcdefghijklmnop"})
    page.request.post(
        "/api/v1/files",
        multipart={"file": {"name": "a.txt", "mimeType": "text/plain", "buffer": b"hello\n"}},
        headers={"X-CSRF-Token": _csrf(page)},
    )
    pages = [
        f"/console/c/{made['id']}",
        "/console/settings",
        "/console/settings/sessions",
        "/console/settings/api-keys",
        "/console/settings/provider-keys",
        "/console/files",
    ]
    for path in pages:
        page.goto(path)
        found = page.evaluate(_CROWDED_BUTTONS)
        assert found["count"] >= 2, path
        assert found["crowded"] == [], (path, found["crowded"])
    page.goto(f"/console/c/{made['id']}")
    page.locator(".card", has_text="Manage").scroll_into_view_if_needed()
    screenshot(page, "conversation-manage")
    page.goto("/console/settings")
    screenshot(page, "settings-buttons")


def _csrf(page: Any) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies.get("convobase_csrf", "")


_CODE_FRAMES = """() => [...document.querySelectorAll('.message-body figure.code')].map(f => {
  const box = e => e.getBoundingClientRect();
  const style = getComputedStyle(f);
  const caption = f.querySelector('figcaption'), pre = f.querySelector('pre');
  const inside = (inner, outer) => inner.left >= outer.left && inner.right <= outer.right
    && inner.top >= outer.top && inner.bottom <= outer.bottom;
  return {
    caption: caption ? caption.textContent.trim() : null,
    captionInside: caption ? inside(box(caption), box(f)) : false,
    preInside: inside(box(pre), box(f)),
    captionAbove: caption ? box(caption).bottom <= box(pre).top + 0.5 : false,
    captionFont: caption ? parseFloat(getComputedStyle(caption).fontSize) : 0,
    border: style.borderTopWidth + ' ' + style.borderTopStyle + ' ' + style.borderTopColor,
    background: style.backgroundColor,
    previousIsText: f.previousElementSibling ? f.previousElementSibling.tagName : null,
  };
})"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_code_blocks_show_their_language_inside_the_frame(page: Any, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)
    sign_up(page, unique_email("code"))
    made = api(page, "POST", "/api/v1/conversations", {"title": "Code"})
    api(
        page,
        "POST",
        f"/api/v1/conversations/{made['id']}/messages",
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "text": "In Markdown:\n\n```python\nprint('fenced')\n```"},
                {"type": "code", "code": "def part():\n    return 1\n", "language": "python"},
                {"type": "code", "code": "SELECT 1;\n"},
            ],
        },
    )
    page.goto(f"/console/c/{made['id']}")
    frames = page.evaluate(_CODE_FRAMES)
    assert len(frames) == 3, frames  # the fenced block gets the same frame as the code parts
    labelled = [f for f in frames if f["caption"] is not None]
    assert [f["caption"] for f in labelled] == ["python", "python"]
    for frame in frames:
        assert frame["preInside"], frame
        assert frame["border"].split()[1] == "solid", frame  # a visible frame
    for frame in labelled:
        assert frame["captionInside"] and frame["captionAbove"], frame
        assert 11 <= frame["captionFont"] < 16, frame
    # One look for all of them.
    assert len({(f["border"], f["background"]) for f in frames}) == 1, frames
    expected = DARK_BACKGROUND if scheme == "dark" else LIGHT_BACKGROUND
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == expected
    page.locator("figure.code").first.scroll_into_view_if_needed()
    screenshot(page, f"code-blocks-{scheme}")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_error_pages_keep_the_layout_and_the_theme(page: Any, theme: str) -> None:
    sign_up(page, unique_email("errors"), name="Erin")
    api(page, "PATCH", "/api/v1/preferences", {"theme": theme})
    page.emulate_media(color_scheme="light" if theme == "dark" else "dark")  # the choice wins
    expected = DARK_BACKGROUND if theme == "dark" else LIGHT_BACKGROUND
    for path, status, heading in [
        ("/console/admin", 403, "Not allowed"),
        (f"/console/c/{uuid.uuid4()}", 404, "Not found"),
        ("/console/c/not-an-id", 404, "Not found"),
    ]:
        response = page.goto(path)
        assert response.status == status, path
        assert page.get_by_role("heading", level=1).inner_text() == heading
        assert page.locator("html").get_attribute("class") == f"theme-{theme}", path
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == expected
        assert page.get_by_role("navigation", name="Main").is_visible(), path
        assert page.get_by_role("button", name="Sign out").is_visible(), path
    page.goto("/console/admin")
    screenshot(page, f"error-403-{theme}")


def test_error_page_for_a_visitor_has_no_navigation(page: Any, live_server: LiveServer) -> None:
    response = page.goto("/console/no-such-page")
    assert response.status == 404
    assert page.get_by_role("navigation", name="Main").count() == 0


_CHART_TEXT = """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const frame = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect();
    return {
      chart: svg.id, text: t.textContent, left: r.left, right: r.right,
      px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
      inside: r.left >= frame.left - 0.5 && r.right <= frame.right + 0.5
        && r.top >= frame.top - 0.5 && r.bottom <= frame.bottom + 0.5,
    };
  });
})"""


@pytest.mark.parametrize("width", [1200, 390])
def test_chart_labels_are_readable_and_unclipped(page: Any, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    sign_up(page, unique_email("charts"))
    for n in range(4):
        api(
            page,
            "POST",
            "/api/v1/usage/events",
            {
                "provider": "openai" if n % 2 else "anthropic",
                "model": "gpt-4o-mini" if n % 2 else "claude-3-5-haiku-20241022",
                "input_tokens": 1000 + n,
                "output_tokens": 200,
                "latency_ms": 120 * (n + 1),
            },
        )
    for days in (7, 30, 90):
        page.goto(f"/console/usage?days={days}")
        labels = page.evaluate(_CHART_TEXT)
        ticks = [t for t in labels if t["chart"] == "chart-requests" and "peak" not in t["text"]]
        assert len(ticks) >= 3, labels
        assert any(t["text"].startswith("peak") for t in labels)
        small = [t for t in labels if t["px"] < 11]
        clipped = [t for t in labels if not t["inside"]]
        assert small == [] and clipped == [], (days, small, clipped)
        for chart in ("chart-requests", "chart-cost"):
            row = sorted(
                (t for t in labels if t["chart"] == chart and "peak" not in t["text"]),
                key=lambda t: t["left"],
            )
            gaps = [b["left"] - a["right"] for a, b in pairwise(row)]
            assert min(gaps) >= 4, (days, chart, row)  # date labels never overlap
    page.goto("/console/usage?days=30")
    screenshot(page, f"usage-charts-{width}")
    page.emulate_media(color_scheme="dark")
    screenshot(page, f"usage-charts-{width}-dark")

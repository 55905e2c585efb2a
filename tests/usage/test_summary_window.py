"""The API's default summary window and the console's "Last 30 days" are one window: the same
days, so the same events at its edges, and the same totals."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from convobase.usage.service import DEFAULT_WINDOW_DAYS
from tests.helpers import make_admin, signup
from tests.usage.test_usage import record

pytestmark = pytest.mark.usefixtures("app")


def stat(html: str, name: str) -> str:
    match = re.search(rf'<span class="meta">{name}</span><strong>([^<]*)</strong>', html)
    assert match, name
    return match.group(1)


async def test_console_and_api_default_windows_agree_at_the_edges(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await signup(client)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    first_instant = datetime.combine(first_day, time.min, UTC)
    edges = {
        "just before the window": first_instant - timedelta(microseconds=1),
        "its first instant": first_instant,
        "now": datetime.now(UTC),
    }
    for n, at in enumerate(edges.values()):
        await record(client, user, model="gpt-4o", input_tokens=10**n, occurred_at=at.isoformat())

    api = (await client.get("/api/v1/usage/summary", headers=user.headers)).json()
    assert api["start"] == first_day.isoformat() and api["end"] == today.isoformat()
    assert api["totals"]["requests"] == 2
    assert api["totals"]["input_tokens"] == 10 + 100  # the first instant and now, not before

    for path, who in (("/console/usage", user), ("/console/admin", None)):
        headers = user.headers if who else (await make_admin(client, app)).headers
        page = await client.get(path, headers=headers)
        assert page.status_code == 200, page.text
        html = page.text
        assert f"{first_day} to {today} (UTC)" in html
        assert stat(html, "Requests") == "2" and stat(html, "Tokens") == "110"
        assert 'aria-current="page">Last 30 days' in html
    admin = (await client.get("/api/v1/admin/usage/summary", headers=headers)).json()
    assert admin["totals"]["requests"] == 2 and admin["start"] == first_day.isoformat()


async def test_default_start_is_counted_back_from_the_given_end(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    end = datetime(2026, 3, 15, 12, tzinfo=UTC)
    summary = await client.get(
        "/api/v1/usage/summary", headers=user.headers, params={"end": end.isoformat()}
    )
    assert summary.status_code == 200, summary.text
    assert summary.json()["start"] == "2026-02-14" and summary.json()["end"] == "2026-03-15"

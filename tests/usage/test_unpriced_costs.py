"""An unknown cost is unknown everywhere: events, summaries (totals, per provider and model,
per day, top users) and the console's usage pages; never $0."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import make_admin, signup
from tests.usage.test_usage import record

pytestmark = pytest.mark.usefixtures("app")

UNPRICED = "my-finetune-7b"
SUMMARY = "/api/v1/usage/summary"


def by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in rows}


async def test_summary_shows_unpriced_costs_as_unknown(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    unknown = await record(
        client, user, provider="openai", model=UNPRICED, input_tokens=100, occurred_at=yesterday
    )
    assert unknown["cost_usd"] is None and unknown["price_unknown"] is True
    await record(client, user, provider="openai", model=UNPRICED, input_tokens=50)
    priced = await record(client, user, provider="openai", model="gpt-4o", input_tokens=1000)
    assert priced["cost_usd"] > 0

    summary = (await client.get(SUMMARY, headers=user.headers)).json()
    models = by_key(summary["by_model"])
    assert models[UNPRICED]["cost_usd"] is None
    assert models[UNPRICED]["unpriced_requests"] == 2
    assert models["gpt-4o"]["cost_usd"] == pytest.approx(priced["cost_usd"])
    assert models["gpt-4o"]["unpriced_requests"] == 0
    # A provider mixing priced and unpriced requests: the known part, and what it leaves out.
    openai = by_key(summary["by_provider"])["openai"]
    assert openai["cost_usd"] == pytest.approx(priced["cost_usd"])
    assert openai["unpriced_requests"] == 2
    totals = summary["totals"]
    assert totals["cost_usd"] == pytest.approx(priced["cost_usd"])
    assert totals["unpriced_requests"] == 2
    # Yesterday had only the unpriced request: unknown, not $0.
    first_day, today = summary["daily"]
    assert first_day["cost_usd"] is None and first_day["unpriced_requests"] == 1
    assert today["cost_usd"] == pytest.approx(priced["cost_usd"])
    assert today["unpriced_requests"] == 1


async def test_all_unpriced_totals_and_top_users_are_unknown(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await signup(client)
    await record(client, user, model=UNPRICED, input_tokens=100, output_tokens=5)
    await record(client, user, input_tokens=7)  # no model named: no price either
    summary = (await client.get(SUMMARY, headers=user.headers)).json()
    assert summary["totals"]["cost_usd"] is None
    assert summary["totals"]["unpriced_requests"] == 2
    assert by_key(summary["by_model"])["unknown"]["cost_usd"] is None

    boss = await make_admin(client, app)
    system = (await client.get("/api/v1/admin/usage/summary", headers=boss.headers)).json()
    (top,) = system["top_users"]
    assert top["email"] == user.email
    assert top["cost_usd"] is None and top["unpriced_requests"] == 2


def stat(html: str, name: str) -> str:
    match = re.search(rf'<div class="stat"><span class="meta">{name}</span>(.*?)</div>', html)
    assert match, name
    return match.group(1)


async def test_console_says_unknown_not_zero(client: httpx.AsyncClient, app: Any) -> None:
    user = await signup(client)
    await record(client, user, provider="acme", model=UNPRICED, input_tokens=100)
    page = await client.get("/console/usage", headers=user.headers)
    assert page.status_code == 200, page.text
    html = page.text
    assert "<strong>unknown</strong>" in stat(html, "Cost")
    assert "1 request with no known price" in stat(html, "Cost")
    assert "$0" not in stat(html, "Cost")
    # The charts: the model's bar and today's cost column are unknown, with a note (days
    # without any request cost $0, truly).
    assert f"{UNPRICED} · unknown" in html
    today = datetime.now(UTC).date().isoformat()
    cost_chart = html[html.index('id="chart-cost"') : html.index('id="chart-providers"')]
    assert f"<title>{today}: unknown</title>" in cost_chart
    assert "1 row of unknown value (no price)" in html
    assert "1 day of unknown value (no price)" in html

    boss = await make_admin(client, app)
    admin = await client.get("/console/admin", headers=boss.headers)
    assert admin.status_code == 200, admin.text
    row = re.search(r'<tr class="top-user">(.*?)</tr>', admin.text)
    assert row and user.email in row.group(1)
    assert "<td>unknown</td>" in row.group(1) and "$0" not in row.group(1)

    # A priced request next to it: a sum with what it leaves out.
    await record(client, user, provider="openai", model="gpt-4o", input_tokens=1000)
    cost = stat((await client.get("/console/usage", headers=user.headers)).text, "Cost")
    assert re.search(r"<strong>\$0\.\d{4}</strong>", cost) and "$0.0000" not in cost
    assert "1 request with no known price, not in this cost" in cost

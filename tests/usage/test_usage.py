"""Usage events priced by the server, rolled up, summarised, listed and exported."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import genai_prices
import httpx
import pytest
from sqlalchemy import func, select

from convobase.models import UsageEvent
from tests.helpers import Account, append, assert_error, make_admin, new_conversation, signup

EVENTS = "/api/v1/usage/events"


async def record(client: httpx.AsyncClient, user: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(EVENTS, headers=user.headers, json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def event_count(app: Any) -> int:
    async with app.state.runtime.database.session(write=False) as db:
        return int(await db.scalar(select(func.count()).select_from(UsageEvent)) or 0)


async def test_cost_comes_from_the_price_table(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    body = await record(
        client,
        user,
        provider="openai",
        model="gpt-4o",
        input_tokens=12_000,
        output_tokens=800,
        cached_tokens=4_000,
        latency_ms=900,
    )
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=12_000, output_tokens=800, cache_read_tokens=4_000),
        "gpt-4o",
        provider_id="openai",
    ).total_price
    assert Decimal(str(body["cost_usd"])) == expected
    assert body["price_source"] == "genai-prices" and body["price_unknown"] is False
    # Cached tokens are cheaper than fresh ones: the same call without cache costs more.
    plain = await record(
        client, user, provider="openai", model="gpt-4o", input_tokens=12_000, output_tokens=800
    )
    assert plain["cost_usd"] > body["cost_usd"]
    # Cache writes count at their own rate (Anthropic prices them above plain input).
    write = await record(
        client,
        user,
        provider="anthropic",
        model="claude-3-5-sonnet-20241022",
        input_tokens=1000,
        output_tokens=10,
        cache_write_tokens=200,
    )
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1000, output_tokens=10, cache_write_tokens=200),
        "claude-3-5-sonnet-20241022",
        provider_id="anthropic",
    ).total_price
    assert Decimal(str(write["cost_usd"])) == expected
    # The provider is found from the model when the client names none.
    found = await record(client, user, model="gpt-4o-mini", input_tokens=10, output_tokens=10)
    assert found["provider"] == "openai" and found["cost_usd"] is not None


async def test_unknown_models_get_no_cost_and_a_flag(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    body = await record(client, user, model="my-finetune-7b", input_tokens=100, output_tokens=5)
    assert body["cost_usd"] is None and body["price_unknown"] is True
    # A provider the table does not know is not priced at some other provider's rate.
    local = await record(client, user, provider="my-vllm", model="gpt-4o", input_tokens=10)
    assert local["cost_usd"] is None
    summary = (await client.get("/api/v1/usage/summary", headers=user.headers)).json()
    assert summary["totals"]["unpriced_requests"] == 2
    assert summary["totals"]["cost_usd"] is None  # unknown, not $0


async def test_admin_price_overrides(client: httpx.AsyncClient, app: Any) -> None:
    boss = await make_admin(client, app)
    user = await signup(client)
    price = {"input_per_mtok": "2", "output_per_mtok": "8", "cache_read_per_mtok": "0.5"}
    response = await client.put(
        "/api/v1/admin/model-prices/acme/custom-1", headers=boss.headers, json=price
    )
    assert response.status_code == 200, response.text
    body = await record(
        client,
        user,
        model="acme/custom-1",
        input_tokens=1_000_000,
        output_tokens=500_000,
        cached_tokens=200_000,
    )
    # 800k fresh x $2 + 200k cached x $0.5 + 500k out x $8, per million.
    assert Decimal(str(body["cost_usd"])) == Decimal("1.6") + Decimal("0.1") + Decimal("4")
    assert body["price_source"] == "override"
    listed = await client.get("/api/v1/admin/model-prices", headers=boss.headers)
    assert [p["model"] for p in listed.json()] == ["acme/custom-1"]
    assert_error(
        await client.put("/api/v1/admin/model-prices/x", headers=user.headers, json=price), 403
    )
    assert_error(
        await client.put(
            "/api/v1/admin/model-prices/x", headers=boss.headers, json={"input_per_mtok": -1}
        ),
        422,
    )
    gone = await client.delete("/api/v1/admin/model-prices/acme/custom-1", headers=boss.headers)
    assert gone.status_code == 204
    again = await record(client, user, model="acme/custom-1", input_tokens=10)
    assert again["cost_usd"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4o", "input_tokens": -1},
        {"model": "gpt-4o", "output_tokens": 10**12},
        {"model": "gpt-4o", "input_tokens": 10, "cached_tokens": 11},
        {"model": "gpt-4o", "surprise": 1},
        {"model": "gpt-4o", "status": "exploded"},
        {"model": "gpt-4o", "latency_ms": -5},
        {"model": "gpt-4o", "occurred_at": "2026-01-01T00:00:00"},  # no timezone
        {"model": "gpt-4o", "occurred_at": "2999-01-01T00:00:00Z"},
        {"model": "gpt-4o", "metadata": {"x": "y" * 5000}},
        {"model": ""},
    ],
)
async def test_bad_events_are_422_and_store_nothing(
    client: httpx.AsyncClient, app: Any, body: dict[str, Any]
) -> None:
    user = await signup(client)
    assert_error(await client.post(EVENTS, headers=user.headers, json=body), 422)
    assert await event_count(app) == 0


async def test_foreign_conversation_is_404(client: httpx.AsyncClient, app: Any) -> None:
    alice, bob = await signup(client), await signup(client)
    conversation = await new_conversation(client, alice)
    response = await client.post(
        EVENTS, headers=bob.headers, json={"model": "gpt-4o", "conversation_id": conversation["id"]}
    )
    assert_error(response, 404)
    assert await event_count(app) == 0


async def test_summary_totals_breakdowns_series_and_latency(
    client: httpx.AsyncClient, app: Any
) -> None:
    user, other = await signup(client), await signup(client)
    conversation = await new_conversation(client, user)
    await append(client, user, conversation["id"], "hello")
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).isoformat()
    latencies = [100, 120, 130, 150, 2000]
    for latency in latencies:
        await record(
            client,
            user,
            provider="openai",
            model="gpt-4o-mini",
            input_tokens=100,
            output_tokens=50,
            latency_ms=latency,
        )
    await record(
        client,
        user,
        provider="anthropic",
        model="claude-3-5-haiku-20241022",
        input_tokens=10,
        output_tokens=5,
        occurred_at=yesterday,
        status="error",
    )
    await record(
        client, other, provider="openai", model="gpt-4o", input_tokens=999, output_tokens=1
    )

    summary = (await client.get("/api/v1/usage/summary", headers=user.headers)).json()
    totals = summary["totals"]
    assert totals["requests"] == 6 and totals["errors"] == 1
    assert totals["input_tokens"] == 510 and totals["output_tokens"] == 255
    assert totals["total_tokens"] == 765
    assert totals["avg_latency_ms"] == pytest.approx(sum(latencies) / 5, abs=0.1)
    # The p95 comes from a histogram: within a bucket (25%) above the true value.
    assert 2000 <= totals["p95_latency_ms"] <= 2500
    assert {b["key"]: b["requests"] for b in summary["by_provider"]} == {
        "openai": 5,
        "anthropic": 1,
    }
    assert summary["by_model"][0]["key"] == "gpt-4o-mini"
    assert [p["requests"] for p in summary["daily"]] == [1, 5]
    assert summary["conversations"] == 1 and summary["messages"] == 1
    assert totals["cost_usd"] > 0
    assert summary["top_users"] is None

    # Only yesterday: the error.
    start = (now - timedelta(days=1)).replace(hour=0, minute=0).isoformat()
    end = (now - timedelta(days=1)).replace(hour=23, minute=59).isoformat()
    window = await client.get(
        "/api/v1/usage/summary", headers=user.headers, params={"start": start, "end": end}
    )
    assert window.json()["totals"]["requests"] == 1

    boss = await make_admin(client, app)
    assert_error(await client.get("/api/v1/admin/usage/summary", headers=user.headers), 403)
    system = (await client.get("/api/v1/admin/usage/summary", headers=boss.headers)).json()
    assert system["totals"]["requests"] == 7
    assert system["top_users"][0]["user_id"] in (user.user["id"], other.user["id"])
    assert {u["email"] for u in system["top_users"]} == {user.email, other.email}


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        {"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        {"start": "yesterday"},
        {"start": "2026-01-01T00:00:00"},
    ],
)
async def test_bad_ranges(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    user = await signup(client)
    assert_error(
        await client.get("/api/v1/usage/summary", headers=user.headers, params=params), 422
    )


async def test_events_list_filters_pages_and_csv(client: httpx.AsyncClient) -> None:
    user, other = await signup(client), await signup(client)
    for i in range(5):
        await record(
            client, user, provider="openai", model="gpt-4o-mini", input_tokens=i, endpoint="/chat"
        )
    await record(client, user, provider="groq", model="=cmd|' /C calc'!A0", input_tokens=1)
    await record(client, other, provider="openai", model="gpt-4o-mini", input_tokens=1)
    page = await client.get(EVENTS, headers=user.headers, params={"limit": 4, "provider": "openai"})
    assert len(page.json()["data"]) == 4
    rest = await client.get(
        EVENTS,
        headers=user.headers,
        params={"limit": 4, "provider": "openai", "cursor": page.json()["next_cursor"]},
    )
    assert len(rest.json()["data"]) == 1 and rest.json()["next_cursor"] is None
    exported = await client.get(f"{EVENTS}/export", headers=user.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 6
    assert {r["provider"] for r in rows} == {"openai", "groq"}
    # A cell that a spreadsheet would run as a formula is neutralised.
    assert any(r["model"].startswith("'=") for r in rows)


async def test_top_users_are_exact_for_ranges_across_months(
    client: httpx.AsyncClient, app: Any
) -> None:
    """Whole months come from month rows and the edges from day rows: same sums as by hand."""
    boss = await make_admin(client, app)
    users = [await signup(client) for _ in range(3)]
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    spent: list[tuple[int, int, datetime]] = []  # (user index, tokens, when)
    for back in (1, 2, 20, 31, 40, 45, 62, 75, 88, 100):
        for index, user in enumerate(users):
            tokens = (index + 1) * 100 + back
            when = today - timedelta(days=back)
            await record(
                client, user, model="my-model", input_tokens=tokens, occurred_at=when.isoformat()
            )
            spent.append((index, tokens, when))
    windows = [(95, 0), (45, 10), (70, 21), (3, 1), (60, 30)]
    for first, last in windows:
        start, end = today - timedelta(days=first), today - timedelta(days=last)
        expected: dict[str, int] = {}
        for index, tokens, when in spent:
            if start.date() <= when.date() <= end.date():
                key = users[index].user["id"]
                expected[key] = expected.get(key, 0) + tokens
        response = await client.get(
            "/api/v1/admin/usage/summary",
            headers=boss.headers,
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
        got = {u["user_id"]: u["total_tokens"] for u in response.json()["top_users"]}
        assert got == expected, (first, last)


@pytest.mark.parametrize("today", [date(2026, 3, 1), date(2026, 3, 17), date(2026, 12, 31)])
def test_period_ranges_cover_each_day_of_the_window_once(today: date) -> None:
    """Signed month and day ranges add up to exactly the window's days (rows exist up to today),
    and a window ending today costs one row for its last month."""
    from convobase.usage.repository import Window, period_ranges

    def month_days(first: date) -> list[date]:
        out, day = [], first
        while day.month == first.month and day <= today:
            out.append(day)
            day += timedelta(days=1)
        return out

    for length in range(1, 120, 7):
        for back in (0, 1, 9, 40):
            end = today - timedelta(days=back)
            start = end - timedelta(days=length)
            at = datetime.combine(start, time(), UTC)
            window = Window(start, end, at, at + timedelta(days=length))
            counted: dict[date, int] = {}
            for r in period_ranges(window, today):
                span = (
                    month_days(r.lo)
                    if r.kind == "m"
                    else [r.lo + timedelta(days=i) for i in range((r.hi - r.lo).days + 1)]
                )
                for day in span:
                    counted[day] = counted.get(day, 0) + r.sign
            covered = {day for day, n in counted.items() if n}
            assert all(n in (0, 1) for n in counted.values())
            assert covered == {start + timedelta(days=i) for i in range(length + 1)}
            if back == 0 and end.day > 2 and start < end.replace(day=1):
                last = [r for r in period_ranges(window, today) if r.lo >= end.replace(day=1)]
                assert [(r.kind, r.sign) for r in last] == [("m", 1)]

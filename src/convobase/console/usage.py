"""The user's usage page: totals and SVG charts from the usage service's summary (rollups)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.auth.dependencies import RuntimeDep
from convobase.console import charts
from convobase.console.web import PageViewer, render
from convobase.db.session import DbSession
from convobase.models.usage import SYSTEM_ID
from convobase.runtime import Runtime
from convobase.usage import repository, service
from convobase.usage.schemas import Summary

router = APIRouter(prefix="/console/usage", include_in_schema=False)

PERIODS = (7, service.DEFAULT_WINDOW_DAYS, 90)
Days = Annotated[int, Query(ge=1, le=400)]


def build_charts(summary: Summary, histogram: list[tuple[int, int]]) -> dict[str, charts.Chart]:
    requests: dict[date, charts.Value] = {p.day: float(p.requests) for p in summary.daily}
    cost: dict[date, charts.Value] = {p.day: p.cost_usd for p in summary.daily}
    latency = [(f"≤ {repository.bucket_upper_ms(b):,.0f} ms", float(n)) for b, n in histogram]
    return {
        "requests": charts.columns(
            "Requests per day", charts.days(summary.start, summary.end, requests), charts.count
        ),
        "cost": charts.columns(
            "Cost per day (USD)", charts.days(summary.start, summary.end, cost), charts.money
        ),
        "providers": charts.rows(
            "Requests by provider",
            [(b.key, float(b.requests)) for b in summary.by_provider],
            charts.count,
        ),
        "models": charts.rows(
            "Cost by model (USD)", [(b.key, b.cost_usd) for b in summary.by_model], charts.money
        ),
        # Rows in bucket order (not by size): a distribution reads from fast to slow.
        "latency": charts.rows(
            "Response times (requests per latency bucket)", latency, charts.count, keep_order=True
        ),
    }


async def dashboard(
    db: AsyncSession, runtime: Runtime, user_id: uuid.UUID | None, period: int, top: int = 0
) -> dict[str, Any]:
    """A summary for the user (or the whole system, ``None``) over the last ``period`` days:
    the same window as the API's default (``service.window``) when ``period`` is its default."""
    span = service.window(runtime.settings, None, None, days=period)
    summary = await service.summary(db, user_id, span, top=top)
    scope = user_id if user_id is not None else SYSTEM_ID
    histogram = await repository.latency_histogram(db, scope, span)
    return {
        "summary": summary,
        "charts": build_charts(summary, histogram),
        "period": period,
        "periods": PERIODS,
    }


@router.get("")
async def usage_page(
    request: Request,
    viewer: PageViewer,
    db: DbSession,
    runtime: RuntimeDep,
    days: Days = service.DEFAULT_WINDOW_DAYS,
) -> HTMLResponse:
    data = await dashboard(db, runtime, viewer.user.id, days)
    return render(request, "usage.html", viewer, nav="usage", admin=False, **data)

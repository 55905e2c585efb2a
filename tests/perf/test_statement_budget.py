"""Statement budgets of the hot paths: a change that adds database work to one of them fails here.

Each hot path is sent through the real ASGI app on SQLite and on PostgreSQL and, in the steady
state (pool open, statements prepared, throttled "last used" updates done), every request's
database work is counted on the app's real engine (tests/perf/counter.py): SQL statements,
transactions begun/committed/rolled back, pool checkouts and, on PostgreSQL, asyncpg round trips
(BEGIN/COMMIT/ROLLBACK, the pool's pre-ping and statement preparation included).

The budgets below are today's counts, written out per path and per engine. Going over one fails
with the statements the request ran. Coming in under one fails too, so the budget follows every
improvement: lower the number in BUDGETS in the same change.
"""

from __future__ import annotations

from typing import Any

import pytest

from convobase.config import Settings
from tests.perf.hotpaths import PATHS, PathCounts, count_hot_paths, providers

MEASURES = ("statements", "begins", "commits", "rollbacks", "checkouts", "round_trips")
Budget = tuple[int, int, int, int, int, int]

# Per request, today's counts, in the order of MEASURES. SQLite's statements include the BEGIN
# IMMEDIATE of the requests that write; round_trips are asyncpg's (PostgreSQL; 0 on SQLite), and
# on PostgreSQL every checkout costs three of them (the pool's pre-ping: BEGIN, ";", ROLLBACK).
# Raised once after the budgets were first taken: typed-prefix search records each search
# document's words in search_terms, one INSERT ... ON CONFLICT DO NOTHING per document (append +1;
# chat completions +5 on PostgreSQL, +4 on SQLite). Folding it into the document's own insert is
# one of issue 17's reductions. Branch pages by segment then took the current branch page from 6
# statements to 5, and added one to append: the parent's segment and depth are read even when
# the message continues the current leaf (kept on the conversation, they would spare it).
# fmt: off
BUDGETS: dict[str, dict[str, Budget]] = {
    "auth_me_session": {"sqlite": (2, 1, 1, 0, 1, 0), "postgres": (2, 1, 1, 0, 1, 7)},
    "auth_me_api_key": {"sqlite": (2, 1, 1, 0, 1, 0), "postgres": (2, 1, 1, 0, 1, 7)},
    "append_message": {"sqlite": (9, 1, 1, 0, 1, 0), "postgres": (8, 1, 1, 0, 1, 13)},
    "list_messages_current": {"sqlite": (5, 1, 1, 0, 1, 0), "postgres": (5, 1, 1, 0, 1, 10)},
    "chat_completions": {"sqlite": (21, 4, 1, 3, 4, 0), "postgres": (20, 4, 1, 3, 4, 40)},
    "chat_completions_stream": {"sqlite": (21, 4, 1, 3, 4, 0), "postgres": (20, 4, 1, 3, 4, 40)},
}
# fmt: on


@pytest.fixture(params=["sqlite", "postgres"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    """SQL sessions on both engines (Redis sessions would move work off the database)."""
    kind: str = request.param
    return kind


@pytest.fixture
def settings_overrides(upstream_url: str) -> dict[str, Any]:
    return {"providers": providers(upstream_url)}


def _explain(path: str, engine: str, counted: PathCounts, budget: dict[str, int]) -> str:
    over = {k: f"{budget[k]} -> {v}" for k, v in counted.worst.items() if v > budget[k]}
    under = {k: f"{budget[k]} -> {v}" for k, v in counted.worst.items() if v < budget[k]}
    lines = [f"{path} on {engine}: counted {counted.worst}"]
    if over:
        lines.append(
            f"OVER BUDGET {over}: this change adds database work to a hot path. Remove it, or "
            "if it is truly needed raise the budget in BUDGETS (tests/perf/"
            "test_statement_budget.py) and say why in the commit."
        )
    if under:
        lines.append(
            f"UNDER BUDGET {under}: well done. Lower the numbers in BUDGETS (tests/perf/"
            "test_statement_budget.py) to these counts, so the saving is kept."
        )
    if counted.round_trip_kinds:
        lines.append(f"round trips: {counted.round_trip_kinds}")
    lines.append("statements the request ran:")
    lines += [f"  {i + 1}. {sql[:300]}" for i, sql in enumerate(counted.sql)]
    return "\n".join(lines)


async def test_hot_paths_stay_within_their_statement_budgets(
    app: Any, settings: Settings, engine_kind: str
) -> None:
    counted = await count_hot_paths(app)
    failures = []
    for path in PATHS:
        budget = dict(zip(MEASURES, BUDGETS[path][engine_kind], strict=True))
        if counted[path].worst != budget:
            failures.append(_explain(path, engine_kind, counted[path], budget))
    assert not failures, "\n\n".join(failures)

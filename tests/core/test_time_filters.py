"""Every time filter of every route refuses numbers and out-of-range times with a 422.

The routes and their time parameters come from the OpenAPI document, so a new route with a
time filter is swept without being listed here. A query parameter whose name says it is a time
(``start``, ``since``...) must be typed as one, so it cannot escape the sweep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.helpers import Account, assert_error, make_admin, new_conversation, signup

TIME_NAMES = {"start", "end", "since", "until", "before", "after", "from", "to"}

# Pydantic's lax datetime parsing would read a number as Unix seconds (``end=0`` was a 500 in
# the usage summary); ranges before the epoch or at the end of the calendar overflowed the
# UUIDv7 bounds and the day arithmetic.
REFUSED = [
    "0",
    "0.5",
    "-1",
    "1714557600",
    "1e3",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-05:00",
    "2024-05-01",
    "2024-05-01T00:00:00",
    "yesterday",
]


def accepted() -> list[str]:
    """Recent times (usage ranges are at most 400 days long), in UTC and with an offset."""
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    return [recent.isoformat(), recent.astimezone(timezone(timedelta(hours=2))).isoformat()]


def time_filters(app: Any) -> list[tuple[str, str]]:
    """(path, parameter) for every GET query parameter typed as a date-time."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                is_time = "date-time" in repr(parameter["schema"])
                if parameter["name"] in TIME_NAMES:
                    assert is_time, f"{method} {path}: ?{parameter['name']} is not a time"
                if is_time:
                    assert method == "get", f"{method} {path}"
                    found.append((path, parameter["name"]))
    return found


async def test_every_time_filter_refuses_numbers_and_out_of_range_times(
    client: httpx.AsyncClient, app: Any
) -> None:
    admin: Account = await make_admin(client, app)
    conversation = await new_conversation(client, admin)
    filters = time_filters(app)
    # The sweep must see the routes known to have time filters (the discovery works).
    assert {
        ("/api/v1/usage/summary", "end"),
        ("/api/v1/admin/usage/summary", "start"),
        ("/api/v1/usage/events", "start"),
        ("/api/v1/usage/events/export", "end"),
        ("/api/v1/search", "start"),
        ("/api/v1/conversations/{conversation_id}/logs", "since"),
    } <= set(filters)
    for path, name in filters:
        url = path.replace("{conversation_id}", conversation["id"])
        base = {"q": "hello"} if path == "/api/v1/search" else {}
        for value in accepted():
            response = await client.get(url, headers=admin.headers, params={**base, name: value})
            assert response.status_code == 200, (path, name, value, response.text)
        for value in REFUSED:
            response = await client.get(url, headers=admin.headers, params={**base, name: value})
            error = assert_error(response, 422, "validation_error")
            assert [e["loc"] for e in error["details"]["errors"]] == [["query", name]], error


@pytest.mark.parametrize("end", ["0", "0.5"])
async def test_a_numeric_summary_end_is_a_422_not_a_500(
    client: httpx.AsyncClient, end: str
) -> None:
    user = await signup(client)
    response = await client.get("/api/v1/usage/summary", headers=user.headers, params={"end": end})
    assert_error(response, 422)


async def test_a_range_ending_near_the_epoch_starts_at_the_epoch(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    response = await client.get(
        "/api/v1/usage/summary", headers=user.headers, params={"end": "1970-01-05T00:00:00Z"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["start"] == "1970-01-01"

"""Timestamps that every `UTCDateTime` column and query can take.

A timezone-aware value near the ends of the calendar (``9999-12-31T23:59:59-05:00``,
``0001-01-01T00:00:00+05:00``) is valid ISO-8601 but has no UTC equivalent: converting it
raises ``OverflowError`` deep in the database driver (a 500). These types convert at the
boundary instead, so such a value is a 422 naming the field.

- `UTCDatetime`: API input; must carry a timezone (naive is a 422), normalised to UTC.
- `LenientUTCDatetime`: data read from files (imports); naive means UTC.
- `TimeFilter`: a time a query filters or ranges by (every ``start``, ``end``, ``since``...
  parameter): an ISO-8601 date and time with a timezone, never a number (Pydantic would read
  ``end=0`` as Unix seconds), from the Unix epoch to the end of year 9998, so the ranges built
  from it (UUIDv7 id bounds, whole UTC days, a default start 30 days earlier) always exist.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC (naive taken as UTC); ValueError when it has no UTC equivalent."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date is out of range once converted to UTC") from None


UTCDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
LenientUTCDatetime = Annotated[datetime, AfterValidator(to_utc)]


# UUIDv7 ids hold milliseconds since the epoch (none before it); a year below 9999 leaves room
# for the day after the last one in a range.
FILTER_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
FILTER_LATEST = datetime(9999, 1, 1, tzinfo=UTC)
_ISO_DATE_AND_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    """Refuse anything but ISO-8601 text (numbers above all) before Pydantic's lax parsing."""
    if isinstance(value, datetime):  # a caller in Python, already a time
        return value
    if not isinstance(value, str) or not _ISO_DATE_AND_TIME.match(value):
        raise ValueError(
            "expected an ISO-8601 date and time with a timezone, e.g. 2024-05-01T00:00:00Z"
        )
    return value


def _within_filter_range(value: datetime) -> datetime:
    if not FILTER_EARLIEST <= value < FILTER_LATEST:
        raise ValueError("time must be from 1970-01-01T00:00:00Z to before 9999-01-01T00:00:00Z")
    return value


TimeFilter = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(to_utc),
    AfterValidator(_within_filter_range),
]

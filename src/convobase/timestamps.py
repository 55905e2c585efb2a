"""Timestamps that every `UTCDateTime` column and query can take.

A timezone-aware value near the ends of the calendar (``9999-12-31T23:59:59-05:00``,
``0001-01-01T00:00:00+05:00``) is valid ISO-8601 but has no UTC equivalent: converting it
raises ``OverflowError`` deep in the database driver (a 500). These types convert at the
boundary instead, so such a value is a 422 naming the field.

- `UTCDatetime`: API input; must carry a timezone (naive is a 422), normalised to UTC.
- `LenientUTCDatetime`: data read from files (imports); naive means UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


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

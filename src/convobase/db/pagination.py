"""Keyset pagination: opaque, signed cursors and the list envelope ``{"data", "next_cursor"}``.

A cursor is the sort key of the last row served, signed with the server secret: a malformed or
forged cursor is a 400, never a 500 and never a way to steer a query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query

from convobase.errors import BadRequest

T = TypeVar("T")
MAX_CURSOR_LENGTH = 512
_SIG_BYTES = 12


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"cursor:" + payload, hashlib.sha256).digest()[:_SIG_BYTES]


def encode_cursor(secret: bytes, *values: Any) -> str:
    payload = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    raw = _sign(secret, payload) + payload
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> BadRequest:
    return BadRequest("Invalid cursor", code="invalid_cursor")


def decode_cursor(secret: bytes, cursor: str, arity: int) -> list[str]:
    """The values packed into ``cursor``."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        signature, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
        if not hmac.compare_digest(signature, _sign(secret, payload)):
            raise ValueError
        values = json.loads(payload)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid() from exc
    if not isinstance(values, list) or len(values) != arity:
        raise _invalid()
    return [str(v) for v in values]


def cursor_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise _invalid() from exc


def cursor_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise _invalid() from exc


def cursor_float(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise _invalid() from exc


def page_of(
    rows: list[T], limit: int, secret: bytes, key: Callable[[T], tuple[Any, ...]]
) -> tuple[list[T], str | None]:
    """Cut a ``limit + 1`` fetch to a page, with the cursor of its last row when more follow."""
    if len(rows) > limit:
        return rows[:limit], encode_cursor(secret, *key(rows[limit - 1]))
    return rows, None


def id_from_cursor(secret: bytes, cursor: str | None) -> uuid.UUID | None:
    """The row id an id-keyed cursor carries (None for the first page; a bad cursor is a 400)."""
    return cursor_uuid(decode_cursor(secret, cursor, 1)[0]) if cursor else None


# Query parameters of every keyset-paginated list.
PageLimit = Annotated[int, Query(ge=1, le=200)]
PageCursor = Annotated[str | None, Query(max_length=512)]

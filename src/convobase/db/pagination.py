"""Keyset pagination: opaque cursors and the list envelope ``{"data", "next_cursor"}``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from convobase.errors import BadRequest

T = TypeVar("T")
MAX_CURSOR_LENGTH = 512


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = None
    total: int | None = None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str]:
    """The values packed into ``cursor``; a malformed cursor is a 400, never a 500."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError
        if not all(isinstance(v, str) for v in values):
            raise ValueError
        return values
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("Invalid cursor", code="invalid_cursor") from exc

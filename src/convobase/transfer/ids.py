"""UUIDv7 ids for imported rows, taken from their original times.

Messages are listed by id (keyset on ``(conversation_id, id)``, UUIDv7 being time-ordered), so an
imported message gets a UUIDv7 whose timestamp is its original ``created_at``: listing stays
chronological and usage counts by id range see it in its own month. Within one conversation the
ids are assigned in time order (ties in tree order) with a counter in the 12 ``rand_a`` bits,
so they strictly increase even when many messages share a millisecond.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

_MS_MASK = (1 << 48) - 1


def uuid7_at(ms: int, seq: int = 0) -> uuid.UUID:
    """A UUIDv7 for Unix time ``ms`` (milliseconds), counter ``seq`` (0-4095), 62 random bits."""
    value = (ms & _MS_MASK) << 80
    value |= 0x7 << 76
    value |= (seq & 0xFFF) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return uuid.UUID(int=value)


def millis(when: datetime) -> int:
    return max(int(when.timestamp() * 1000), 0)


class Sequence:
    """Strictly increasing UUIDv7s for times given in non-decreasing order."""

    def __init__(self) -> None:
        self.ms = -1
        self.seq = 0

    def next(self, when: datetime) -> uuid.UUID:
        ms = millis(when)
        if ms <= self.ms:
            ms = self.ms
            self.seq += 1
            if self.seq > 0xFFF:
                ms, self.seq = ms + 1, 0
        else:
            self.seq = 0
        self.ms = ms
        return uuid7_at(ms, self.seq)

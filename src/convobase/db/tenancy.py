"""Tenancy by query scope: every owner filter in Convobase goes through these helpers.

A row that belongs to someone else is simply not found (404), never "forbidden".
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from convobase.errors import NotFound


class Owned(Protocol):
    id: Any
    user_id: Any


OwnedT = TypeVar("OwnedT", bound=Owned)
SelectT = TypeVar("SelectT", bound=Select[Any])


def owned_by(stmt: SelectT, model: type[Owned], user_id: uuid.UUID) -> SelectT:
    """Restrict ``stmt`` to the rows of ``model`` that ``user_id`` owns."""
    column: InstrumentedAttribute[uuid.UUID] = model.user_id
    return stmt.where(column == user_id)


async def get_owned(
    db: AsyncSession,
    model: type[OwnedT],
    row_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    what: str | None = None,
) -> OwnedT:
    """The row ``row_id`` if ``user_id`` owns it, else NotFound."""
    stmt = owned_by(select(model), model, user_id).where(model.id == row_id)
    row = (await db.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{what or model.__name__} not found")
    return row

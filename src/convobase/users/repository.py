"""Queries on the users table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.models import User

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class UserFilter:
    role: str | None = None
    disabled: bool | None = None
    email_prefix: str | None = None


async def get_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def get(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await db.get(User, user_id)


async def count_enabled_admins(db: AsyncSession, *, excluding: uuid.UUID | None = None) -> int:
    stmt = (
        select(func.count()).select_from(User).where(User.role == "admin", User.disabled.is_(False))
    )
    if excluding is not None:
        stmt = stmt.where(User.id != excluding)
    return int((await db.execute(stmt)).scalar_one())


def _filtered(stmt: SelectT, where: UserFilter) -> SelectT:
    if where.role is not None:
        stmt = stmt.where(User.role == where.role)
    if where.disabled is not None:
        stmt = stmt.where(User.disabled.is_(where.disabled))
    if where.email_prefix:
        escaped = where.email_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(User.email.like(f"{escaped}%", escape="\\"))
    return stmt


async def page(
    db: AsyncSession, *, limit: int, before_id: uuid.UUID | None, where: UserFilter
) -> list[User]:
    """Newest first, keyset on the time-ordered id."""
    stmt = select(User).order_by(User.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(User.id < before_id)
    return list((await db.execute(_filtered(stmt, where))).scalars())


async def count(db: AsyncSession, where: UserFilter) -> int:
    stmt = _filtered(select(func.count()).select_from(User), where)
    return int((await db.execute(stmt)).scalar_one())

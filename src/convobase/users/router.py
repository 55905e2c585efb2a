"""Admin endpoints on users: list (keyset, filters) and update role / disabled."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from convobase.accounts import service as accounts
from convobase.auth.dependencies import AdminPrincipal, RuntimeDep
from convobase.auth.schemas import UserOut
from convobase.db.pagination import PageCursor, PageLimit, id_from_cursor, page_of
from convobase.db.session import DbSession
from convobase.users import repository, service
from convobase.users.schemas import AdminUserUpdateIn, Role, UserPageOut

router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"])


@router.get("", response_model=UserPageOut)
async def list_users(
    _: AdminPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    role: Role | None = None,
    disabled: bool | None = None,
    email: Annotated[str | None, Query(max_length=320, description="Email prefix")] = None,
    include_total: bool = False,
) -> UserPageOut:
    before = id_from_cursor(runtime.secret, cursor)
    where = repository.UserFilter(role, disabled, email.lower() if email else None)
    rows = await repository.page(db, limit=limit + 1, before_id=before, where=where)
    rows, next_cursor = page_of(rows, limit, runtime.secret, lambda u: (u.id,))
    total = await repository.count(db, where) if include_total else None
    return UserPageOut(
        data=[UserOut.model_validate(u) for u in rows], next_cursor=next_cursor, total=total
    )


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: uuid.UUID,
    data: AdminUserUpdateIn,
    principal: AdminPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
) -> UserOut:
    user = await service.admin_update(db, runtime, principal.user, user_id, data)
    return UserOut.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: uuid.UUID, principal: AdminPrincipal, db: DbSession, runtime: RuntimeDep
) -> Response:
    """Delete an account and everything it owns (usage kept anonymised)."""
    await accounts.admin_delete(db, runtime, principal.user, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from convobase.auth.dependencies import (
    AdminPrincipal,
    CurrentPrincipal,
    PrincipalOutsideTransaction,
    RuntimeDep,
)
from convobase.backends.quotas import Amount
from convobase.db.session import DbSession
from convobase.quotas import service
from convobase.quotas.schemas import QuotaStatus, ReservationIn, ReservationOut
from convobase.usage import service as usage
from convobase.usage.schemas import UsageEventIn, UsageEventOut
from convobase.users import service as users

router = APIRouter(prefix="/api/v1/quotas", tags=["quotas"])
admin_router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"])


@router.get("", response_model=QuotaStatus)
async def my_quota(principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep) -> QuotaStatus:
    return await service.status(db, runtime, principal.user.id)


@router.post(
    "/reservations",
    status_code=status.HTTP_201_CREATED,
    response_model=ReservationOut,
    summary="Hold allowance for a model call (429 when a limit would be passed)",
)
async def reserve(
    data: ReservationIn, principal: PrincipalOutsideTransaction, runtime: RuntimeDep
) -> ReservationOut:
    # No request transaction: the reservation commits in the quota store's own.
    held = await service.reserve(
        runtime,
        principal.user.id,
        Amount(requests=1, tokens=data.tokens, cost_usd=data.cost_usd),
    )
    if held is None:
        return ReservationOut(id=None, expires_at=None, unlimited=True)
    return ReservationOut(id=held.id, expires_at=held.expires_at)


@router.post(
    "/reservations/{reservation_id}/commit",
    status_code=status.HTTP_201_CREATED,
    response_model=UsageEventOut,
    summary="Record the call's usage event and settle its reservation",
)
async def commit(
    reservation_id: uuid.UUID,
    data: UsageEventIn,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
) -> UsageEventOut:
    await service.check_held(runtime, principal.user.id, reservation_id)
    event = await usage.record(db, principal.user, data)
    service.count_after_commit(db, runtime, event, reservation_id)
    return UsageEventOut.model_validate(event)


@router.delete("/reservations/{reservation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def release(
    reservation_id: uuid.UUID, principal: PrincipalOutsideTransaction, runtime: RuntimeDep
) -> None:
    await service.release(runtime, principal.user.id, reservation_id)


@admin_router.get("/{user_id}/quota", response_model=QuotaStatus)
async def user_quota(
    user_id: uuid.UUID, _: AdminPrincipal, db: DbSession, runtime: RuntimeDep
) -> QuotaStatus:
    await users.get_user(db, user_id)
    return await service.status(db, runtime, user_id)

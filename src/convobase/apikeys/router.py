from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, status

from convobase.apikeys import service
from convobase.apikeys.schemas import ApiKeyCreatedOut, ApiKeyIn, ApiKeyListOut, ApiKeyOut
from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep, refuse_guests
from convobase.db.session import DbSession

# Guests may not mint API keys (403 guest_not_allowed).
router = APIRouter(
    prefix="/api/v1/api-keys", tags=["api-keys"], dependencies=[Depends(refuse_guests)]
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreatedOut)
async def create_api_key(
    data: ApiKeyIn, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> ApiKeyCreatedOut:
    row, key = await service.create(db, runtime.settings, principal.user, data)
    return ApiKeyCreatedOut(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@router.get("", response_model=ApiKeyListOut)
async def list_api_keys(principal: CurrentPrincipal, db: DbSession) -> ApiKeyListOut:
    rows = await service.list_keys(db, principal.user)
    return ApiKeyListOut(data=[ApiKeyOut.model_validate(r) for r in rows])


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession) -> None:
    await service.revoke(db, principal.user, key_id)

"""HTTP layer for /api/v1/provider-keys: a user's own keys for LLM providers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep, refuse_guests
from convobase.db.session import DbSession
from convobase.keys import service
from convobase.keys.schemas import (
    PROVIDER_PATTERN,
    ProviderKeyIn,
    ProviderKeyListOut,
    ProviderKeyOut,
)

# Guests may not use the vault (403 guest_not_allowed): a key sealed to a guest's id could
# not move to the account it becomes.
router = APIRouter(
    prefix="/api/v1/provider-keys", tags=["provider-keys"], dependencies=[Depends(refuse_guests)]
)

Provider = Annotated[
    str,
    Path(
        pattern=PROVIDER_PATTERN,
        description="Lower-case provider name, e.g. `openai`, `anthropic`, `groq`.",
    ),
]


@router.get("", response_model=ProviderKeyListOut)
async def list_provider_keys(principal: CurrentPrincipal, db: DbSession) -> ProviderKeyListOut:
    """Your stored provider keys (last four characters only), by provider name."""
    rows = await service.list_keys(db, principal.user.id)
    return ProviderKeyListOut(data=[ProviderKeyOut.model_validate(r) for r in rows])


@router.get("/{provider}", response_model=ProviderKeyOut)
async def get_provider_key(
    provider: Provider, principal: CurrentPrincipal, db: DbSession
) -> ProviderKeyOut:
    return ProviderKeyOut.model_validate(await service.get(db, principal.user.id, provider))


@router.put("/{provider}", response_model=ProviderKeyOut)
async def put_provider_key(
    data: ProviderKeyIn,
    provider: Provider,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
) -> ProviderKeyOut:
    """Store or replace your key for this provider (encrypted; only `last4` is shown)."""
    row = await service.put(
        db, runtime.settings, principal.user.id, provider, data.api_key.get_secret_value()
    )
    return ProviderKeyOut.model_validate(row)


@router.delete("/{provider}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_provider_key(
    provider: Provider, principal: CurrentPrincipal, db: DbSession
) -> None:
    await service.delete(db, principal.user.id, provider)

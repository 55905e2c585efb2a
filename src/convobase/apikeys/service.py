from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.apikeys import repository
from convobase.apikeys.schemas import ApiKeyIn
from convobase.auth.tokens import API_KEY_DISPLAY_LENGTH, new_api_key, token_hash
from convobase.config import Settings
from convobase.db.base import utcnow
from convobase.db.tenancy import get_owned
from convobase.errors import Conflict, ValidationFailed
from convobase.models import ApiKey, User


async def create(
    db: AsyncSession, settings: Settings, user: User, data: ApiKeyIn
) -> tuple[ApiKey, str]:
    now = utcnow()
    if data.expires_at is not None and data.expires_at <= now:
        raise ValidationFailed(
            "expires_at must be in the future",
            details={
                "errors": [
                    {
                        "loc": ["body", "expires_at"],
                        "msg": "must be in the future",
                        "type": "value_error",
                    }
                ]
            },
        )
    if await repository.count_live(db, user.id, now) >= settings.api_key_max_per_user:
        raise Conflict(
            f"At most {settings.api_key_max_per_user} active API keys per user",
            code="too_many_api_keys",
        )
    key = new_api_key()
    row = ApiKey(
        user_id=user.id,
        name=data.name,
        prefix=key[:API_KEY_DISPLAY_LENGTH],
        key_hash=token_hash(key),
        created_at=now,
        expires_at=data.expires_at,
    )
    db.add(row)
    await db.flush()
    return row, key


async def list_keys(db: AsyncSession, user: User) -> list[ApiKey]:
    return await repository.list_live(db, user.id, utcnow())


async def revoke(db: AsyncSession, user: User, key_id: uuid.UUID) -> None:
    row = await get_owned(db, ApiKey, key_id, user.id, what="API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await db.flush()

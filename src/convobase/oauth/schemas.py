from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from convobase.auth.schemas import UserOut


class ProviderOut(BaseModel):
    name: str
    kind: str
    display_name: str
    authorize_url: str


class ProviderListOut(BaseModel):
    data: list[ProviderOut]


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    created_at: datetime


class MeOut(UserOut):
    identities: list[IdentityOut]

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from convobase.auth.schemas import UserOut
from convobase.quotas.schemas import QuotaIn

Role = Literal["user", "admin"]


class AdminUserUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: StrictBool | None = None
    quota: QuotaIn | None = Field(
        None, description="The user's limits; null fields fall back to the defaults."
    )


class UserPageOut(BaseModel):
    data: list[UserOut]
    next_cursor: str | None = None
    total: int | None = None

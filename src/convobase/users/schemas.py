from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from convobase.auth.schemas import UserOut

Role = Literal["user", "admin"]


class AdminUserUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None


class UserPageOut(BaseModel):
    data: list[UserOut]
    next_cursor: str | None = None
    total: int | None = None

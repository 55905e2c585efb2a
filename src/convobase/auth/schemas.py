from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl, StrictBool

# Hard caps that bound the work a request can cause; settings narrow them further.
PASSWORD_CAP = 4096


def _normalise_email(value: str) -> str:
    return value.strip().lower()


Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_normalise_email)]
Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_CAP)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class SignupIn(Strict):
    email: Email
    password: Password
    name: DisplayName | None = None


class LoginIn(Strict):
    email: Email
    password: Password


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str | None
    avatar_url: str | None
    role: str
    disabled: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime


class SessionTokenOut(BaseModel):
    id: uuid.UUID
    token: str | None = Field(None, description="Shown once, when issued or rotated.")
    expires_at: datetime
    csrf_token: str = Field(description="Send as X-CSRF-Token on cookie-authenticated writes.")


class AuthOut(BaseModel):
    user: UserOut
    session: SessionTokenOut


class MeUpdateIn(Strict):
    name: DisplayName | None = None
    avatar_url: Annotated[HttpUrl, Field(max_length=2048)] | None = None


class PasswordChangeIn(Strict):
    current_password: Password | None = None
    new_password: Password


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    active_conversation_id: uuid.UUID | None
    current: bool


class SessionListOut(BaseModel):
    data: list[SessionOut]
    next_cursor: str | None = None


class RefreshIn(Strict):
    rotate: StrictBool = Field(False, description="Issue a new token and retire the old one.")


class RefreshOut(BaseModel):
    session: SessionTokenOut

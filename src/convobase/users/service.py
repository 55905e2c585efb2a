"""Rules on user records that the API, the admin endpoints and the CLI share."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.auth.passwords import PasswordHasher
from convobase.config import Settings
from convobase.errors import Conflict, NotFound, ValidationFailed
from convobase.models import User
from convobase.quotas import service as quotas
from convobase.quotas.schemas import QuotaIn
from convobase.users import repository
from convobase.users.schemas import AdminUserUpdateIn

if TYPE_CHECKING:
    from convobase.runtime import Runtime


def check_password_policy(settings: Settings, password: str, field: str = "password") -> None:
    problem = None
    if len(password) < settings.password_min_length:
        problem = f"must be at least {settings.password_min_length} characters"
    elif len(password) > settings.password_max_length:
        problem = f"must be at most {settings.password_max_length} characters"
    elif not password.strip():
        problem = "must not be only whitespace"
    if problem:
        raise ValidationFailed(
            f"Password {problem}",
            details={
                "errors": [
                    {
                        "loc": ["body", field],
                        "msg": f"Password {problem}",
                        "type": "password_policy",
                    }
                ]
            },
        )


async def create_user(
    db: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    *,
    email: str,
    password: str | None,
    name: str | None = None,
    role: str = "user",
) -> User:
    """Create a user (email already normalised); 409 when the email is taken."""
    if password is not None:
        check_password_policy(settings, password)
    if await repository.get_by_email(db, email) is not None:
        raise Conflict("An account with this email already exists", code="email_taken")
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=await hasher.hash(password) if password is not None else None,
    )
    db.add(user)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError as exc:  # lost a race with a concurrent sign-up
        raise Conflict("An account with this email already exists", code="email_taken") from exc
    return user


async def admin_update(
    db: AsyncSession, runtime: Runtime, admin: User, user_id: uuid.UUID, data: AdminUserUpdateIn
) -> User:
    user = await get_user(db, user_id)
    fields = data.model_fields_set
    demoting = "role" in fields and data.role is not None and data.role != "admin"
    disabling = "disabled" in fields and bool(data.disabled)
    if demoting or disabling:
        await ensure_not_last_admin(db, user)
    if "role" in fields and data.role is not None and data.role != user.role:
        if user.is_guest:
            # A guest has no email or password of its own: it becomes an account by signing up.
            raise Conflict("A guest becomes an account by signing up", code="guest_role")
        user.role = data.role
    if "disabled" in fields and data.disabled is not None:
        user.disabled = data.disabled
        if data.disabled:
            # Refused at once anyway (every request checks the flag); this frees the store too.
            await runtime.session_store(db).revoke_all(user.id)
    if "quota" in fields:
        await quotas.set_user_quota(db, user.id, data.quota or QuotaIn())
    await db.flush()
    return user


async def ensure_not_last_admin(db: AsyncSession, user: User) -> None:
    """Refuse (409) a change that would take away the last active administrator."""
    if (
        user.role == "admin"
        and not user.disabled
        and await repository.count_enabled_admins(db, excluding=user.id) == 0
    ):
        raise Conflict("This would leave no active administrator", code="last_admin")


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.get(db, user_id)
    if user is None:
        raise NotFound("User not found")
    return user

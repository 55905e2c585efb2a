"""Account deletion and guest merges: the rules, over the registry in ownership.py.

Both run inside the caller's transaction (the request's, or the CLI's unit of work) and only
``flush()``; what must wait for the commit (blob deletion, quota counters) is registered with
``after_commit``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts import repository
from convobase.auth.dependencies import Principal
from convobase.backends.sessions.sql import SqlSessionStore
from convobase.db.base import utcnow
from convobase.db.session import after_commit
from convobase.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized
from convobase.files import blobs
from convobase.models import User
from convobase.runtime import Runtime
from convobase.users import repository as users
from convobase.users.service import ensure_not_last_admin

log = structlog.get_logger("convobase.accounts")

# An account without a password proves itself by a sign-in this recent.
RECENT_SIGN_IN = timedelta(minutes=10)


# --- deletion ------------------------------------------------------------------------------


async def delete_account(db: AsyncSession, runtime: Runtime, user: User) -> uuid.UUID:
    """Remove ``user`` and everything they own; return the random id their usage now has.

    The one deletion path (self-service, admin, CLI, prune). Usage stays for billing under a
    fresh random id, stripped of conversation and message ids and metadata; the rest goes by
    the foreign keys' cascades. Blobs no other file uses are deleted after the commit.
    """
    await ensure_not_last_admin(db, user)
    user_id = user.id
    shas = await repository.blob_shas_of_user(db, user_id)
    anon_id = uuid.uuid4()
    await repository.anonymise_usage(db, user_id, anon_id)
    await _remove_user(db, runtime, user)
    after_commit(db, lambda: runtime.quotas.forget(user_id))
    if shas:
        after_commit(db, lambda: blobs.release(runtime, shas))
    log.info("account_deleted", user_id=str(user_id), role=user.role)
    return anon_id


async def _remove_user(db: AsyncSession, runtime: Runtime, user: User) -> None:
    """Sessions revoked, then the row: the cascades do the rest.

    The `sql` store's rows go inside this transaction; the Redis store's only after the commit,
    so a rolled-back deletion or merge leaves the user signed in. Between the two a Redis
    session names a user row that is gone, which `get_principal` already refuses (401).
    """
    user_id = user.id
    store = runtime.session_store(db)
    if isinstance(store, SqlSessionStore):
        await store.revoke_all(user_id)
    else:

        async def revoke() -> None:
            await store.revoke_all(user_id)

        after_commit(db, revoke)
    await repository.delete_user_row(db, user_id)
    if user in db:
        db.expunge(user)


async def delete_me(
    db: AsyncSession, runtime: Runtime, principal: Principal, password: str | None
) -> None:
    """``DELETE /auth/me``: the password when the account has one, else a recent sign-in."""
    user = principal.user
    if user.password_hash is not None:
        if password is None:
            raise Forbidden(
                "Confirm with your password to delete this account", code="password_required"
            )
        await _check_password(runtime, user, password)
    elif not user.is_guest:
        session = principal.session
        if session is None or utcnow() - session.created_at > RECENT_SIGN_IN:
            raise Forbidden(
                "Sign in again (within 10 minutes) to delete this account",
                code="recent_sign_in_required",
                details={"max_age_seconds": int(RECENT_SIGN_IN.total_seconds())},
            )
    await delete_account(db, runtime, user)


async def _check_password(runtime: Runtime, user: User, password: str) -> None:
    """Wrong passwords count against the same throttle as failed logins."""
    settings = runtime.settings
    key = f"login:email:{user.email}"
    window = settings.login_window_seconds
    decision = await runtime.limiter.peek(key, settings.login_email_failures, window)
    if not decision.allowed:
        raise RateLimited(decision.retry_after, "Too many wrong passwords; try again later")
    if not await runtime.hasher.verify(user.password_hash, password):
        await runtime.limiter.hit(key, settings.login_email_failures, window)
        raise Unauthorized("Wrong password", code="invalid_credentials")


async def admin_delete(db: AsyncSession, runtime: Runtime, admin: User, user_id: uuid.UUID) -> None:
    user = await users.get(db, user_id)
    if user is None:
        raise NotFound("User not found")
    if user.id == admin.id:
        raise Conflict(
            "Administrators delete their own account with DELETE /api/v1/auth/me",
            code="cannot_delete_self",
        )
    await delete_account(db, runtime, user)


async def delete_by_email(db: AsyncSession, runtime: Runtime, email: str) -> User:
    user = await users.get_by_email(db, email)
    if user is None:
        raise NotFound(f"No account {email}")
    await delete_account(db, runtime, user)
    return user


# --- guests becoming accounts --------------------------------------------------------------


async def merge_guest(
    db: AsyncSession, runtime: Runtime, guest: Principal | None, account: User
) -> None:
    """Everything the guest made becomes ``account``'s, in the caller's transaction; the guest
    is then deleted and its sessions revoked. No-op without a guest.

    Any failure raises and rolls the whole request back: both users stay as they were.
    """
    if guest is None or not guest.user.is_guest or guest.user.id == account.id:
        return
    guest_id, account_id = guest.user.id, account.id
    await repository.renumber_library_files(db, guest_id, account_id)
    await repository.move_preferences(db, guest_id, account_id)
    await repository.move_rows(db, guest_id, account_id)
    await repository.sum_rollups(db, guest_id, account_id)
    await _remove_user(db, runtime, guest.user)
    await db.flush()
    # Redis quota counters are recounted from the merged rollups, held allowance moved along.
    after_commit(db, lambda: runtime.quotas.merge(guest_id, account_id))
    log.info("guest_merged", guest_id=str(guest_id), user_id=str(account_id))

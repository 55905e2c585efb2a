"""Accounts and sessions: the rules behind the /api/v1/auth endpoints."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts.service import merge_guest
from convobase.auth.dependencies import Principal, session_lifetime
from convobase.auth.schemas import LoginIn, MeUpdateIn, PasswordChangeIn, SignupIn
from convobase.auth.tokens import new_session_token, token_hash
from convobase.backends.sessions import SessionRecord
from convobase.config import Settings
from convobase.db.base import new_id, utcnow
from convobase.errors import BadRequest, Forbidden, NotFound, RateLimited, Unauthorized
from convobase.models import User
from convobase.runtime import Runtime
from convobase.users import repository as users
from convobase.users.service import check_password_policy, create_user

_BAD_CREDENTIALS = "Wrong email or password"
GUEST_EMAIL_DOMAIN = "guest.invalid"  # RFC 2606: never a real address


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class IssuedSession:
    record: SessionRecord
    token: str


def check_signup_allowed(settings: Settings, email: str) -> None:
    """Self-service sign-up (by password or a provider) by the signup mode and email domains."""
    mode = settings.effective_signup_mode
    if mode != "open":
        why = "by invitation only" if mode == "invite" else "closed"
        raise Forbidden(f"Sign-up is {why} on this server", code="signup_closed")
    if not settings.email_domain_allowed(email):
        raise Forbidden("Sign-up is not open to this email domain", code="email_domain_not_allowed")
    if email.endswith("@" + GUEST_EMAIL_DOMAIN):
        raise Forbidden("This email domain is reserved for guests", code="email_domain_reserved")


async def start_session(
    db: AsyncSession, runtime: Runtime, user: User, client: ClientInfo
) -> IssuedSession:
    """Issue a new session for ``user`` (also used by OAuth sign-in later)."""
    now = utcnow()
    token = new_session_token()
    record = SessionRecord(
        id=new_id(),
        user_id=user.id,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + session_lifetime(runtime.settings, user),
        user_agent=(client.user_agent or "")[:512] or None,
        ip=client.ip,
    )
    store = runtime.session_store(db)
    await store.create(record)
    # Bound the sessions a user can pile up: the oldest go first.
    live = await store.list_for_user(user.id, now)
    for stale in live[runtime.settings.sessions_max_per_user :]:
        await store.revoke(stale.id, user.id)
    return IssuedSession(record, token)


async def signup(
    db: AsyncSession,
    runtime: Runtime,
    data: SignupIn,
    client: ClientInfo,
    guest: Principal | None = None,
) -> tuple[User, IssuedSession]:
    """Create the account; a guest session carried along has its data moved into it."""
    settings = runtime.settings
    check_signup_allowed(settings, data.email)
    if client.ip:
        decision = await runtime.limiter.hit(
            f"signup:ip:{client.ip}", settings.signup_ip_attempts, 3600
        )
        if not decision.allowed:
            raise RateLimited(decision.retry_after, "Too many sign-ups from this address")
    user = await create_user(
        db, runtime.hasher, settings, email=data.email, password=data.password, name=data.name
    )
    await merge_guest(db, runtime, guest, user)
    return user, await start_session(db, runtime, user, client)


async def login(
    db: AsyncSession,
    runtime: Runtime,
    data: LoginIn,
    client: ClientInfo,
    guest: Principal | None = None,
) -> tuple[User, IssuedSession]:
    """Sign in; a guest session carried along has its data moved into the account."""
    settings = runtime.settings
    limiter = runtime.limiter
    window = settings.login_window_seconds
    email_key = f"login:email:{data.email}"
    ip_key = f"login:ip:{client.ip}" if client.ip else None
    checks = [(email_key, settings.login_email_failures)]
    if ip_key:
        checks.append((ip_key, settings.login_ip_attempts))
    for key, limit in checks:
        decision = await limiter.peek(key, limit, window)
        if not decision.allowed:
            raise RateLimited(decision.retry_after, "Too many login attempts; try again later")
    if ip_key:
        await limiter.hit(ip_key, settings.login_ip_attempts, window)

    user = await users.get_by_email(db, data.email)
    # Always verify (against a dummy hash when there is no user) so that an unknown email and
    # a wrong password answer alike and in about the same time.
    ok = await runtime.hasher.verify(user.password_hash if user else None, data.password)
    if user is None or not ok:
        await limiter.hit(email_key, settings.login_email_failures, window)
        raise Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
    if user.disabled:
        raise Forbidden("This account is disabled", code="account_disabled")
    await limiter.reset(email_key)
    if user.password_hash and runtime.hasher.needs_rehash(user.password_hash):
        user.password_hash = await runtime.hasher.hash(data.password)
    await merge_guest(db, runtime, guest, user)
    return user, await start_session(db, runtime, user, client)


async def logout(db: AsyncSession, runtime: Runtime, principal: Principal) -> None:
    if principal.session is None:
        raise BadRequest(
            "Logout ends a session; this request used an API key", code="not_a_session"
        )
    await runtime.session_store(db).revoke(principal.session.id, principal.user.id)


async def update_me(db: AsyncSession, user: User, data: MeUpdateIn) -> User:
    fields = data.model_fields_set
    if "name" in fields:
        user.name = data.name
    if "avatar_url" in fields:
        user.avatar_url = str(data.avatar_url) if data.avatar_url is not None else None
    await db.flush()
    return user


async def change_password(
    db: AsyncSession, runtime: Runtime, principal: Principal, data: PasswordChangeIn
) -> None:
    user = principal.user
    if user.is_guest:
        raise Forbidden("Guests sign up to set a password", code="guest_not_allowed")
    if user.password_hash is not None and (
        data.current_password is None
        or not await runtime.hasher.verify(user.password_hash, data.current_password)
    ):
        raise Unauthorized("Current password is wrong", code="invalid_credentials")
    check_password_policy(runtime.settings, data.new_password, field="new_password")
    user.password_hash = await runtime.hasher.hash(data.new_password)
    await db.flush()
    keep = principal.session.id if principal.session else None
    await runtime.session_store(db).revoke_all(user.id, keep=keep)


async def list_sessions(
    db: AsyncSession, runtime: Runtime, principal: Principal
) -> list[SessionRecord]:
    return await runtime.session_store(db).list_for_user(principal.user.id, utcnow())


async def revoke_session(
    db: AsyncSession, runtime: Runtime, principal: Principal, session_id: uuid.UUID
) -> None:
    if not await runtime.session_store(db).revoke(session_id, principal.user.id):
        raise NotFound("Session not found")


async def refresh_session(
    db: AsyncSession, runtime: Runtime, principal: Principal, rotate: bool
) -> IssuedSession:
    """Slide the current session's expiry now; optionally swap its token for a new one."""
    if principal.session is None:
        raise BadRequest("Refresh needs a session token, not an API key", code="not_a_session")
    store = runtime.session_store(db)
    now = utcnow()
    expires_at = now + session_lifetime(runtime.settings, principal.user)
    await store.touch(principal.session.id, now, expires_at)
    record = principal.session.touched(now, expires_at)
    token = ""
    if rotate:
        token = new_session_token()
        await store.replace_token(record.id, token_hash(token))
    return IssuedSession(record, token)

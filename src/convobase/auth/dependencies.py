"""Who is calling: the principal behind a session token, a session cookie or an API key.

Refused at once (401) when the token is made up, expired or revoked, or the account is
disabled. Cookie-authenticated unsafe requests must come from our own origin or carry the
CSRF token (403 otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.auth.tokens import API_KEY_PREFIX, csrf_matches, token_hash
from convobase.backends.sessions import SessionRecord
from convobase.config import Settings
from convobase.db.base import utcnow
from convobase.db.session import DbSession, after_commit, run_after_commit
from convobase.errors import ConvobaseError, Forbidden, Unauthorized
from convobase.models import ApiKey, User
from convobase.runtime import Runtime

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TOKEN_LENGTH = 256


@dataclass(slots=True)
class Principal:
    user: User
    session: SessionRecord | None = None
    api_key: ApiKey | None = None
    via_cookie: bool = False


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _credentials(request: Request, cookie_name: str) -> tuple[str, bool] | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        return value.strip(), False
    cookie = request.cookies.get(cookie_name)
    return (cookie, True) if cookie else None


def request_origin(request: Request, runtime: Runtime) -> set[str]:
    """The origins this server answers as: the public URL's and the request's own host."""
    origins = {f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"}
    if runtime.settings.public_url:
        parts = urlsplit(runtime.settings.public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def _check_csrf(request: Request, runtime: Runtime, session_id: str) -> None:
    origin = request.headers.get("origin")
    if origin is None and (referer := request.headers.get("referer")):
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin is not None and origin in request_origin(request, runtime):
        return
    candidate = request.headers.get("x-csrf-token")
    if candidate and csrf_matches(runtime.secret, session_id, candidate):
        return
    raise Forbidden(
        "Cookie-authenticated writes need a same-origin Origin or X-CSRF-Token", code="csrf_failed"
    )


async def _from_api_key(db: DbSession, runtime: Runtime, key: str, now: datetime) -> Principal:
    row = (
        await db.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(
                ApiKey.key_hash == token_hash(key),
                ApiKey.revoked_at.is_(None),
                or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
            )
        )
    ).first()
    if row is None:
        raise Unauthorized("Invalid, expired or revoked API key", code="invalid_token")
    api_key, user = row
    interval = timedelta(seconds=runtime.settings.session_touch_seconds)
    if api_key.last_used_at is None or now - api_key.last_used_at >= interval:
        key_id = api_key.id
        after_commit(db, lambda: runtime.touch_api_key(key_id, now))
    return Principal(user=user, api_key=api_key)


async def _from_session(
    db: DbSession, runtime: Runtime, token: str, now: datetime, via_cookie: bool
) -> Principal:
    record = await runtime.session_store(db).get_by_token_hash(token_hash(token), now)
    if record is None:
        raise Unauthorized("Invalid, expired or revoked session", code="invalid_token")
    user = await db.get(User, record.user_id)
    if user is None:
        raise Unauthorized("Invalid, expired or revoked session", code="invalid_token")
    settings = runtime.settings
    if now - record.last_seen_at >= timedelta(seconds=settings.session_touch_seconds):
        expires_at = now + session_lifetime(settings, user)
        session_id = record.id
        # A guest's activity is what `convobase prune` reads; written with the same throttle.
        active = user.id if user.is_guest else None
        after_commit(db, lambda: runtime.touch_session(session_id, now, expires_at, active))
        record = record.touched(now, expires_at)
    return Principal(user=user, session=record, via_cookie=via_cookie)


def session_lifetime(settings: Settings, user: User) -> timedelta:
    """How long a session lives from its last use: guests expire after their idle time."""
    if user.is_guest:
        return timedelta(hours=settings.guest_idle_hours)
    return timedelta(days=settings.session_ttl_days)


async def get_principal(request: Request, db: DbSession, runtime: RuntimeDep) -> Principal:
    return await resolve_principal(request, db, runtime)


async def get_principal_outside_transaction(request: Request, runtime: RuntimeDep) -> Principal:
    """For routes that must not hold a write transaction while they wait: uploads streaming a
    large body, quota reservations committing in a store's own transaction.

    The caller is resolved in a short read-only session of its own, so the request's write
    transaction (on SQLite, the database's single write lock) opens only when the route first
    writes, if ever.
    """
    async with runtime.database.session(write=False) as db:
        principal = await resolve_principal(request, db, runtime)
    await run_after_commit(db)  # the throttled session touch, as after any request
    return principal


async def resolve_principal(request: Request, db: AsyncSession, runtime: Runtime) -> Principal:
    credentials = _credentials(request, runtime.settings.session_cookie_name)
    if credentials is None:
        raise Unauthorized()
    token, via_cookie = credentials
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("Invalid, expired or revoked session", code="invalid_token")
    now = utcnow()
    if token.startswith(API_KEY_PREFIX) and not via_cookie:
        principal = await _from_api_key(db, runtime, token, now)
    else:
        principal = await _from_session(db, runtime, token, now, via_cookie)
    if principal.user.disabled:
        raise Unauthorized("This account is disabled", code="account_disabled")
    if via_cookie and request.method not in _SAFE_METHODS and principal.session is not None:
        _check_csrf(request, runtime, str(principal.session.id))
    return principal


async def optional_guest(request: Request, db: AsyncSession, runtime: Runtime) -> Principal | None:
    """The guest session this request carries (cookie or Bearer), for sign-up and login to
    merge; None for anything else. Never fails: a bad, expired or cross-site (CSRF) guest
    credential is simply ignored, so it cannot break a login nor merge a guest uninvited."""
    try:
        principal = await resolve_principal(request, db, runtime)
    except ConvobaseError:
        return None
    if principal.user.is_guest and principal.session is not None:
        return principal
    return None


async def refuse_guests(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """For what a guest may not do (API keys, the provider key vault...): 403."""
    if principal.user.is_guest:
        raise Forbidden(
            "Guests cannot do this; sign up to keep your conversations and unlock it",
            code="guest_not_allowed",
        )
    return principal


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.user.role != "admin":
        raise Forbidden("Administrator role required", code="admin_required")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
MemberPrincipal = Annotated[Principal, Depends(refuse_guests)]
PrincipalOutsideTransaction = Annotated[Principal, Depends(get_principal_outside_transaction)]
AdminPrincipal = Annotated[Principal, Depends(get_admin)]

"""Sign-in with a provider: the rules.

A sign-in in flight (state, PKCE verifier, nonce, return URL, the user linking) lives in
``oauth_states``, written and taken in short transactions of their own: the row is gone once a
callback has used it, even when that callback then fails, so a state never works twice. The
state is also bound to the browser that started it, by an HttpOnly cookie whose hash the row
keeps.

Accounts: an identity (provider, subject) belongs to one user. A first sign-in links to the
existing account with the same email only when the provider says the email is verified; an
unverified email never takes over an account (``account_exists_unverified``) and never
creates one either (so nobody can squat an address they do not own).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from authlib.common.security import generate_token
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts.service import merge_guest
from convobase.auth.dependencies import Principal
from convobase.auth.service import ClientInfo, IssuedSession, check_signup_allowed, start_session
from convobase.auth.tokens import token_hash
from convobase.config import OAuthProviderConfig, Settings
from convobase.db.base import utcnow
from convobase.errors import BadRequest, Conflict, Forbidden, NotFound
from convobase.models import OAuthAccount, OAuthState, User
from convobase.oauth import repository
from convobase.oauth.providers import Identity, ProviderError
from convobase.runtime import Runtime
from convobase.users import repository as users
from convobase.users.service import create_user

CALLBACK_PATH = "/api/v1/auth/oauth/{name}/callback"
AUTHORIZE_PATH = "/api/v1/auth/oauth/{name}/authorize"
MAX_URL = 2048


class InvalidState(BadRequest):
    code = "invalid_state"
    message = "This sign-in link is invalid, expired or already used; start again"


@dataclass(frozen=True, slots=True)
class Started:
    url: str
    browser: str  # the browser-binding cookie's value


@dataclass(frozen=True, slots=True)
class Finished:
    user: User
    issued: IssuedSession | None  # None when a signed-in user linked an identity
    return_to: str


def get_provider(settings: Settings, name: str) -> OAuthProviderConfig:
    provider = settings.oauth_provider(name)
    if provider is None:
        raise NotFound(f"No sign-in provider named {name!r}", code="unknown_provider")
    return provider


def base_url(settings: Settings, request_base: str) -> str:
    return (settings.public_url or request_base).rstrip("/")


def resolve_return_to(settings: Settings, base: str, value: str | None) -> str:
    """The URL to land on after sign-in, if the allow-list permits it (else 400)."""
    refused = BadRequest(
        "The return URL is not allowed on this server", code="return_url_not_allowed"
    )
    if not value:
        return base + "/"
    if len(value) > MAX_URL or any(ord(c) < 32 or c == "\\" for c in value):
        raise refused
    if value.startswith("/") and not value.startswith("//"):
        value = base + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise refused
    for entry in settings.oauth_return_urls or [base]:
        allowed = urlsplit(entry)
        if (allowed.scheme, allowed.netloc.lower()) != (parts.scheme, parts.netloc.lower()):
            continue
        prefix = allowed.path.rstrip("/")
        if not prefix or parts.path == prefix or parts.path.startswith(prefix + "/"):
            return value
    raise refused


async def start(
    runtime: Runtime,
    name: str,
    request_base: str,
    return_to: str | None,
    link_user: User | None,
    browser: str | None,
) -> Started:
    settings = runtime.settings
    provider = get_provider(settings, name)
    base = base_url(settings, request_base)
    target = resolve_return_to(settings, base, return_to)
    redirect_uri = base + CALLBACK_PATH.format(name=provider.name)
    state = secrets.token_urlsafe(32)
    verifier = generate_token(64)
    nonce = secrets.token_urlsafe(24) if provider.kind != "github" else None
    if not browser or len(browser) > 100:
        browser = secrets.token_urlsafe(32)
    url = await runtime.oauth_clients().authorization_url(
        provider, redirect_uri, state, verifier, nonce
    )
    now = utcnow()
    async with runtime.database.session() as db:
        await repository.delete_expired_states(db, now)
        db.add(
            OAuthState(
                state_hash=token_hash(state),
                browser_hash=token_hash(browser),
                provider=provider.name,
                code_verifier=verifier,
                nonce=nonce,
                redirect_uri=redirect_uri,
                return_to=target,
                link_user_id=link_user.id if link_user else None,
                expires_at=now + timedelta(seconds=settings.oauth_state_ttl_seconds),
            )
        )
        await db.commit()
    return Started(url=url, browser=browser)


async def _take_state(runtime: Runtime, state: str | None, browser: str | None) -> OAuthState:
    if not state or len(state) > 200:
        raise InvalidState("The provider's answer carries no state; start again")
    async with runtime.database.session() as db:
        row = await repository.take_state(db, token_hash(state))
        await db.commit()
    if row is None or row.expires_at <= utcnow():
        raise InvalidState()
    if not browser or not hmac.compare_digest(row.browser_hash, token_hash(browser)):
        raise InvalidState("This sign-in was started in another browser; start again")
    return row


async def finish(
    db: AsyncSession,
    runtime: Runtime,
    name: str,
    params: dict[str, str],
    browser: str | None,
    client: ClientInfo,
    guest: Callable[[], Awaitable[Principal | None]] | None = None,
) -> Finished:
    """The callback: check the state, exchange the code, then sign in, sign up or link.

    A guest session the browser still carries is merged into the account signed in to;
    ``guest`` looks it up only then, since the request's session must not touch the database
    before ``_take_state`` has committed its own transaction (SQLite has one writer)."""
    provider = get_provider(runtime.settings, name)
    row = await _take_state(runtime, params.get("state"), browser)
    if row.provider != provider.name:
        raise InvalidState("This sign-in was started for another provider")
    if error := params.get("error"):
        raise ProviderError(
            f"The provider refused the sign-in: {error[:100]}",
            details={"provider_error": error[:100]},
        )
    code = params.get("code")
    if not code:
        raise ProviderError("The provider's answer carries no code")
    identity = await runtime.oauth_clients().identity(
        provider, row.redirect_uri, code, row.code_verifier, row.nonce
    )
    if row.link_user_id is not None:
        user = await _link(db, provider.name, identity, row.link_user_id)
        return Finished(user, None, row.return_to)
    user = await _sign_in_or_up(db, runtime, provider.name, identity)
    if user.disabled:
        raise Forbidden("This account is disabled", code="account_disabled")
    if guest is not None:
        await merge_guest(db, runtime, await guest(), user)
    return Finished(user, await start_session(db, runtime, user, client), row.return_to)


async def _add_identity(db: AsyncSession, user: User, provider: str, identity: Identity) -> None:
    db.add(
        OAuthAccount(
            user_id=user.id,
            provider=provider,
            subject=identity.subject,
            email=identity.email,
            email_verified=identity.email_verified,
        )
    )
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError as exc:  # a concurrent callback linked it first
        raise Conflict(
            "This identity is already linked to an account", code="identity_in_use"
        ) from exc


async def _link(db: AsyncSession, provider: str, identity: Identity, user_id: uuid.UUID) -> User:
    user = await users.get(db, user_id)
    if user is None:
        raise InvalidState("The account that started this link is gone")
    existing = await repository.get_identity(db, provider, identity.subject)
    if existing is not None:
        if existing.user_id != user.id:
            raise Conflict(
                "This identity is already linked to another account", code="identity_in_use"
            )
        return user
    await _add_identity(db, user, provider, identity)
    return user


async def _sign_in_or_up(
    db: AsyncSession, runtime: Runtime, provider: str, identity: Identity
) -> User:
    known = await repository.get_identity(db, provider, identity.subject)
    if known is not None:
        user = await users.get(db, known.user_id)
        assert user is not None  # the foreign key cascades
        if identity.email is not None:
            known.email = identity.email
            known.email_verified = identity.email_verified
        return user
    if identity.email is None:
        raise ProviderError("The provider did not share an email address", code="email_required")
    user = await users.get_by_email(db, identity.email)
    if user is not None:
        if not identity.email_verified:
            raise Conflict(
                "An account with this email exists and the provider has not verified the "
                "email; sign in another way, then link this provider",
                code="account_exists_unverified",
            )
        await _add_identity(db, user, provider, identity)
        return user
    check_signup_allowed(runtime.settings, identity.email)
    if not identity.email_verified:
        raise Forbidden(
            "The provider has not verified this email address", code="email_not_verified"
        )
    user = await create_user(
        db,
        runtime.hasher,
        runtime.settings,
        email=identity.email,
        password=None,
        name=identity.name,
    )
    user.avatar_url = identity.avatar_url
    await _add_identity(db, user, provider, identity)
    return user


async def unlink(db: AsyncSession, user: User, provider: str) -> None:
    """Remove the user's identities at ``provider``, never the last way in (409)."""
    mine = await repository.list_for_user(db, user.id)
    doomed = [a for a in mine if a.provider == provider]
    if not doomed:
        raise NotFound(f"No identity at {provider!r} is linked to this account")
    if user.password_hash is None and len(doomed) == len(mine):
        raise Conflict(
            "This is the account's last way to sign in; set a password or link another "
            "provider first",
            code="last_sign_in_method",
        )
    for account in doomed:
        await db.delete(account)
    await db.flush()


async def identities(db: AsyncSession, user: User) -> list[OAuthAccount]:
    return await repository.list_for_user(db, user.id)

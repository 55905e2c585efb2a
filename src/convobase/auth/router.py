"""HTTP layer for /api/v1/auth: parse, call the service, shape the answer. No rules here."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from convobase.accounts import guests
from convobase.accounts import service as accounts
from convobase.accounts.schemas import DeleteMeIn
from convobase.auth import service
from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep, optional_guest
from convobase.auth.schemas import (
    AuthOut,
    LoginIn,
    MeUpdateIn,
    PasswordChangeIn,
    RefreshIn,
    RefreshOut,
    SessionListOut,
    SessionOut,
    SessionTokenOut,
    SignupIn,
    UserOut,
)
from convobase.auth.tokens import csrf_token
from convobase.db.session import DbSession
from convobase.models import User
from convobase.oauth import service as oauth_service
from convobase.oauth.schemas import IdentityOut, MeOut
from convobase.runtime import Runtime

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

CSRF_COOKIE = "convobase_csrf"


def client_info(request: Request) -> service.ClientInfo:
    return service.ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _secure(request: Request, runtime: Runtime) -> bool:
    if runtime.settings.cookie_secure is not None:
        return runtime.settings.cookie_secure
    return request.url.scheme == "https"


def set_session_cookies(
    request: Request, response: Response, runtime: Runtime, issued: service.IssuedSession
) -> None:
    max_age = runtime.settings.session_ttl_days * 86400
    secure = _secure(request, runtime)
    response.set_cookie(
        runtime.settings.session_cookie_name,
        issued.token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token(runtime.secret, str(issued.record.id)),
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_session_cookies(response: Response, runtime: Runtime) -> None:
    response.delete_cookie(runtime.settings.session_cookie_name, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def token_out(runtime: Runtime, issued: service.IssuedSession) -> SessionTokenOut:
    return SessionTokenOut(
        id=issued.record.id,
        token=issued.token or None,
        expires_at=issued.record.expires_at,
        csrf_token=csrf_token(runtime.secret, str(issued.record.id)),
    )


def auth_out(runtime: Runtime, user: User, issued: service.IssuedSession) -> AuthOut:
    return AuthOut(user=UserOut.model_validate(user), session=token_out(runtime, issued))


@router.post("/signup", status_code=status.HTTP_201_CREATED, response_model=AuthOut)
async def signup(
    data: SignupIn, request: Request, response: Response, db: DbSession, runtime: RuntimeDep
) -> AuthOut:
    guest = await optional_guest(request, db, runtime)
    user, issued = await service.signup(db, runtime, data, client_info(request), guest)
    set_session_cookies(request, response, runtime, issued)
    return auth_out(runtime, user, issued)


@router.post("/login", response_model=AuthOut)
async def login(
    data: LoginIn, request: Request, response: Response, db: DbSession, runtime: RuntimeDep
) -> AuthOut:
    guest = await optional_guest(request, db, runtime)
    user, issued = await service.login(db, runtime, data, client_info(request), guest)
    set_session_cookies(request, response, runtime, issued)
    return auth_out(runtime, user, issued)


@router.post("/guest", status_code=status.HTTP_201_CREATED, response_model=AuthOut)
async def guest(
    request: Request, response: Response, db: DbSession, runtime: RuntimeDep
) -> AuthOut:
    """Start an anonymous session; signing up or logging in with it keeps what it made."""
    user, issued = await guests.start_guest(db, runtime, client_info(request))
    set_session_cookies(request, response, runtime, issued)
    return auth_out(runtime, user, issued)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep) -> Response:
    await service.logout(db, runtime, principal)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, runtime)
    return response


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal, db: DbSession) -> MeOut:
    linked = await oauth_service.identities(db, principal.user)
    return MeOut(
        **UserOut.model_validate(principal.user).model_dump(),
        identities=[IdentityOut.model_validate(a) for a in linked],
    )


@router.patch("/me", response_model=UserOut)
async def update_me(data: MeUpdateIn, principal: CurrentPrincipal, db: DbSession) -> UserOut:
    return UserOut.model_validate(await service.update_me(db, principal.user, data))


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(
    principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep, data: DeleteMeIn | None = None
) -> Response:
    """Delete the account and everything it owns (usage kept anonymised)."""
    await accounts.delete_me(db, runtime, principal, data.password if data else None)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, runtime)
    return response


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    data: PasswordChangeIn, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> None:
    await service.change_password(db, runtime, principal, data)


@router.get("/sessions", response_model=SessionListOut)
async def list_sessions(
    principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> SessionListOut:
    current = principal.session.id if principal.session else None
    records = await service.list_sessions(db, runtime, principal)
    return SessionListOut(
        data=[
            SessionOut(
                id=r.id,
                created_at=r.created_at,
                last_seen_at=r.last_seen_at,
                expires_at=r.expires_at,
                user_agent=r.user_agent,
                ip=r.ip,
                active_conversation_id=r.active_conversation_id,
                current=r.id == current,
            )
            for r in records
        ]
    )


@router.post("/sessions/refresh", response_model=RefreshOut)
async def refresh_session(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    data: RefreshIn | None = None,
) -> RefreshOut:
    issued = await service.refresh_session(
        db, runtime, principal, rotate=bool(data and data.rotate)
    )
    if issued.token and principal.via_cookie:
        set_session_cookies(request, response, runtime, issued)
    return RefreshOut(session=token_out(runtime, issued))


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(
    session_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> None:
    await service.revoke_session(db, runtime, principal, session_id)

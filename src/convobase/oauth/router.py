"""HTTP layer for sign-in with a provider (under /api/v1/auth). Rules live in service.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from convobase.auth.dependencies import (
    CurrentPrincipal,
    Principal,
    RuntimeDep,
    optional_guest,
    refuse_guests,
    resolve_principal,
)
from convobase.auth.router import client_info, set_session_cookies
from convobase.db.session import DbSession, WriteDbSession
from convobase.oauth import service
from convobase.oauth.schemas import ProviderListOut, ProviderOut
from convobase.runtime import Runtime

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

BROWSER_COOKIE = "convobase_oauth"
COOKIE_PATH = "/api/v1/auth/oauth"


def _request_base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _secure(request: Request, runtime: Runtime) -> bool:
    if runtime.settings.cookie_secure is not None:
        return runtime.settings.cookie_secure
    return request.url.scheme == "https"


@router.get("/providers", response_model=ProviderListOut)
async def list_providers(request: Request, runtime: RuntimeDep) -> ProviderListOut:
    base = service.base_url(runtime.settings, _request_base(request))
    return ProviderListOut(
        data=[
            ProviderOut(
                name=p.name,
                kind=p.kind,
                display_name=p.label,
                authorize_url=base + service.AUTHORIZE_PATH.format(name=p.name),
            )
            for p in runtime.settings.oauth_providers
        ]
    )


async def _linking_user(
    request: Request, db: DbSession, runtime: RuntimeDep, link: bool = False
) -> Principal | None:
    if not link:
        return None
    return await refuse_guests(await resolve_principal(request, db, runtime))


@router.get(
    "/oauth/{provider}/authorize",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={302: {"description": "To the provider's sign-in page"}},
)
async def authorize(
    provider: str,
    request: Request,
    runtime: RuntimeDep,
    principal: Annotated[Principal | None, Depends(_linking_user)],
    return_to: Annotated[str | None, Query(max_length=service.MAX_URL)] = None,
    link: Annotated[bool, Query(description="Link to the signed-in account")] = False,
) -> RedirectResponse:
    started = await service.start(
        runtime,
        provider,
        _request_base(request),
        return_to,
        principal.user if principal else None,
        request.cookies.get(BROWSER_COOKIE),
    )
    response = RedirectResponse(started.url, status_code=status.HTTP_302_FOUND)
    response.set_cookie(
        BROWSER_COOKIE,
        started.browser,
        max_age=runtime.settings.oauth_state_ttl_seconds,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=_secure(request, runtime),
        path=COOKIE_PATH,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(
    "/oauth/{provider}/callback",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={302: {"description": "Signed in (session cookie set); to the return URL"}},
)
async def callback(
    provider: str, request: Request, db: WriteDbSession, runtime: RuntimeDep
) -> RedirectResponse:
    params = {k: v for k, v in request.query_params.items() if len(v) <= 4096}
    finished = await service.finish(
        db,
        runtime,
        provider,
        params,
        request.cookies.get(BROWSER_COOKIE),
        client_info(request),
        lambda: optional_guest(request, db, runtime),
    )
    response = RedirectResponse(finished.return_to, status_code=status.HTTP_302_FOUND)
    if finished.issued is not None:
        set_session_cookies(request, response, runtime, finished.issued)
    response.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.delete("/oauth/{provider}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink(provider: str, principal: CurrentPrincipal, db: DbSession) -> Response:
    await service.unlink(db, principal.user, provider)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""Sign in, sign up and sign out: the same auth services and session cookie as the API.

Before a session exists there is no session id to key the CSRF token on, so these forms use a
random nonce in a strict same-site cookie instead (a login-CSRF guard): the hidden field must
be the HMAC of that nonce, checked with the same ``auth/tokens.py`` functions.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from convobase.auth import service
from convobase.auth.dependencies import RuntimeDep
from convobase.auth.router import clear_session_cookies, client_info, set_session_cookies
from convobase.auth.schemas import LoginIn, SignupIn
from convobase.auth.tokens import csrf_matches, csrf_token
from convobase.console.web import (
    FormError,
    FormViewer,
    failing_back_to,
    optional,
    render,
    safe_next,
    secure_cookies,
    see_other,
    text,
)
from convobase.db.session import DbSession
from convobase.oauth import service as oauth
from convobase.runtime import Runtime

router = APIRouter(prefix="/console", include_in_schema=False)

NONCE_COOKIE = "convobase_console_nonce"
Next = Annotated[str | None, Query(max_length=2048)]


def _nonce_token(runtime: Runtime, nonce: str) -> str:
    return csrf_token(runtime.secret, f"console-signin:{nonce}")


def _providers(request: Request, runtime: Runtime, next_path: str) -> list[dict[str, str]]:
    base = oauth.base_url(runtime.settings, str(request.base_url))
    query = urlencode({"return_to": base + next_path})
    return [
        {"label": p.label, "url": f"{base}{oauth.AUTHORIZE_PATH.format(name=p.name)}?{query}"}
        for p in runtime.settings.oauth_providers
    ]


def _form_page(request: Request, runtime: Runtime, template: str, next_path: str) -> HTMLResponse:
    nonce = request.cookies.get(NONCE_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        template,
        csrf=_nonce_token(runtime, nonce),
        next=next_path,
        providers=_providers(request, runtime, next_path),
        signup_open=runtime.settings.effective_signup_mode != "closed",
    )
    response.set_cookie(
        NONCE_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/console",
    )
    return response


async def _checked_form(request: Request, runtime: Runtime, back: str) -> tuple[str, str, str]:
    form = await request.form()
    nonce = request.cookies.get(NONCE_COOKIE, "")
    if not nonce or not csrf_matches(
        runtime.secret, f"console-signin:{nonce}", text(form, "csrf_token")
    ):
        raise FormError(back, "The form expired; please try again")
    return text(form, "email"), str(form.get("password") or ""), safe_next(text(form, "next"))


def _signed_in(
    request: Request, runtime: Runtime, issued: service.IssuedSession, to: str
) -> Response:
    response = RedirectResponse(to, status_code=303)
    set_session_cookies(request, response, runtime, issued)
    response.delete_cookie(
        NONCE_COOKIE, path="/console", secure=secure_cookies(request), samesite="strict"
    )
    return response


@router.get("/login")
async def login_page(request: Request, runtime: RuntimeDep, next: Next = None) -> HTMLResponse:
    return _form_page(request, runtime, "login.html", safe_next(next))


@router.post("/login")
async def login(request: Request, db: DbSession, runtime: RuntimeDep) -> Response:
    email, password, to = await _checked_form(request, runtime, "/console/login")
    with failing_back_to(f"/console/login?{urlencode({'next': to})}"):
        _, issued = await service.login(
            db, runtime, LoginIn(email=email, password=password), client_info(request)
        )
    return _signed_in(request, runtime, issued, to)


@router.get("/signup")
async def signup_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _form_page(request, runtime, "signup.html", "/console/")


@router.post("/signup")
async def signup(request: Request, db: DbSession, runtime: RuntimeDep) -> Response:
    email, password, to = await _checked_form(request, runtime, "/console/signup")
    name = optional(await request.form(), "name")
    with failing_back_to("/console/signup"):
        data = SignupIn(email=email, password=password, name=name)
        _, issued = await service.signup(db, runtime, data, client_info(request))
    return _signed_in(request, runtime, issued, to)


@router.post("/logout")
async def logout(
    request: Request, viewer: FormViewer, db: DbSession, runtime: RuntimeDep
) -> Response:
    await service.logout(db, runtime, viewer.principal)
    response = see_other(request, "/console/login", "Signed out")
    clear_session_cookies(response, runtime)
    return response

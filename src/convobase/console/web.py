"""What every console page shares: templates, security headers, the viewer, CSRF and flashes.

Pages are server-rendered (Jinja2, autoescape on) and forms POST then 303-redirect. Every POST
carries a hidden ``csrf_token`` (the session's HMAC token from ``auth/tokens.py``), checked on
top of the same-origin check ``resolve_principal`` already does for cookie writes. A failed
form raises ``FormError``: the request's transaction rolls back (get_db sees the exception)
and the handler redirects back with the message in a signed, short-lived flash cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader
from pydantic import ValidationError
from starlette.datastructures import FormData

from convobase.auth.dependencies import Principal, RuntimeDep, resolve_principal
from convobase.auth.tokens import csrf_matches, csrf_token
from convobase.console import markdown
from convobase.db.session import DbSession
from convobase.errors import ConvobaseError, Forbidden, Unauthorized
from convobase.preferences import service as preferences
from convobase.runtime import Runtime
from convobase.search.query import MAX_QUERY_LENGTH

STATIC_DIR = Path(__file__).parent / "static"
HTMX = "vendor/htmx-2.0.8.min.js"
FLASH_COOKIE = "convobase_flash"
FLASH_PATH = "/console"
STATIC_PREFIX = "/console/static/"

# No inline script or style anywhere: htmx's own indicator styles are off (meta config).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-store",
}

templates = Environment(
    loader=PackageLoader("convobase.console", "templates"), autoescape=True, auto_reload=False
)
templates.filters.update(markdown.MESSAGE_FILTERS)
templates.globals["max_query"] = MAX_QUERY_LENGTH

# The viewer's time zone (the ``timezone`` preference) while one page renders.
_UTC_ZONE = ZoneInfo("UTC")
_ZONE: ContextVar[ZoneInfo | None] = ContextVar("console_zone", default=None)


def _current_zone() -> ZoneInfo:
    return _ZONE.get() or _UTC_ZONE


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def local_time(value: datetime) -> str:
    """``value`` as the viewer's wall-clock time, minutes precision."""
    return _aware(value).astimezone(_current_zone()).strftime("%Y-%m-%d %H:%M")


def utc_iso(value: datetime) -> str:
    return _aware(value).astimezone(UTC).isoformat()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return _UTC_ZONE


templates.globals.update(
    local_time=local_time, utc_iso=utc_iso, zone_name=lambda: _current_zone().key
)


def is_console_path(path: str) -> bool:
    return path == "/" or path == "/console" or path.startswith("/console/")


class LoginRequired(Exception):
    """No (valid) session: the handler sends the browser to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class FormError(Exception):
    """A form the services refused: back to ``url`` with ``message`` shown there."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user, with plain copies of what templates show (never lazy ORM loads)."""

    principal: Principal
    email: str
    name: str | None
    is_admin: bool
    is_guest: bool
    theme: str
    timezone: str
    csrf: str

    @property
    def user(self) -> Any:
        return self.principal.user


def safe_next(value: str | None) -> str:
    """Only our own console paths: never another host, scheme or a protocol-relative URL."""
    if (
        value
        and value.startswith("/console/")
        and "\\" not in value
        and value.isprintable()  # no control characters (CR/LF, tabs) in a Location
    ):
        return value
    return "/console/"


async def _viewer(request: Request, db: DbSession, runtime: RuntimeDep) -> Viewer:
    try:
        principal = await resolve_principal(request, db, runtime)
    except Unauthorized as exc:
        raise LoginRequired(request.url.path) from exc
    if principal.session is None:  # an API key: the console is for browser sessions
        raise LoginRequired(request.url.path)
    user = principal.user
    prefs = await preferences.get_preferences(db, user.id)
    token = csrf_token(runtime.secret, str(principal.session.id))
    return Viewer(
        principal=principal,
        email=user.email,
        name=user.name,
        is_admin=user.role == "admin",
        is_guest=user.role == "guest",
        theme=prefs.theme,
        timezone=prefs.timezone,
        csrf=token,
    )


async def optional_viewer(request: Request) -> Viewer | None:
    """The signed-in viewer of a page drawn outside a route (the error page), else None, so
    it keeps the navigation and the viewer's theme. Never raises: an error page must render
    whatever went wrong (anonymous, expired or disabled, or the database itself)."""
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.database.session(write=False) as db:
            return await _viewer(request, db, runtime)
    except Exception:  # any failure only means a page without navigation
        return None


def check_csrf(runtime: Runtime, principal: Principal, candidate: str | None) -> None:
    session = principal.session
    if (
        session is None
        or not candidate
        or not csrf_matches(runtime.secret, str(session.id), candidate)
    ):
        raise Forbidden("The form's security token is missing or wrong", code="csrf_failed")


async def _form_viewer(request: Request, db: DbSession, runtime: RuntimeDep) -> Viewer:
    viewer = await _viewer(request, db, runtime)
    form = await request.form()  # cached on the request: handlers read it again for free
    value = form.get("csrf_token")
    check_csrf(runtime, viewer.principal, value if isinstance(value, str) else None)
    return viewer


PageViewer = Annotated[Viewer, Depends(_viewer)]
FormViewer = Annotated[Viewer, Depends(_form_viewer)]


def render(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = read_flash(request)
    values: dict[str, Any] = {
        "request": request,
        "viewer": viewer,
        "theme": viewer.theme if viewer else "system",
        "csrf": viewer.csrf if viewer else "",
        "htmx": HTMX,
        "flash": flash,
        **context,
    }
    zone = _ZONE.set(_zone(viewer.timezone) if viewer else None)
    try:
        html = templates.get_template(template).render(values)
    finally:
        _ZONE.reset(zone)
    response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
    if flash is not None:
        response.delete_cookie(
            FLASH_COOKIE, path=FLASH_PATH, secure=secure_cookies(request), samesite="strict"
        )
    return response


def is_fragment(request: Request) -> bool:
    """An htmx request wants only the part of the page it swaps in."""
    return request.headers.get("hx-request") == "true"


# --- flash messages: one signed cookie, shown by the next page and then cleared ----------


def _flash_signature(secret: bytes, payload: str) -> str:
    return hmac.new(secret, f"flash:{payload}".encode(), hashlib.sha256).hexdigest()[:32]


def secure_cookies(request: Request) -> bool:
    """The session cookie's rule (auth/router.py): the setting, else whether this is https."""
    runtime: Runtime = request.app.state.runtime
    if runtime.settings.cookie_secure is not None:
        return runtime.settings.cookie_secure
    return request.url.scheme == "https"


def see_other(
    request: Request, url: str, message: str | None = None, *, kind: str = "ok"
) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if message:
        runtime: Runtime = request.app.state.runtime
        payload = base64.urlsafe_b64encode(json.dumps([kind, message[:500]]).encode()).decode()
        response.set_cookie(
            FLASH_COOKIE,
            f"{payload}.{_flash_signature(runtime.secret, payload)}",
            max_age=60,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
            path=FLASH_PATH,
        )
    return response


def read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return None
    payload, _, signature = raw.rpartition(".")
    runtime: Runtime = request.app.state.runtime
    if not hmac.compare_digest(_flash_signature(runtime.secret, payload), signature):
        return None
    try:
        kind, message = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    return {"kind": "error" if kind == "error" else "ok", "message": str(message)}


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(
        f"/console/login?next={quote(safe_next(next_path), safe='')}", status_code=303
    )


# --- forms -------------------------------------------------------------------------------


def text(form: FormData, name: str) -> str:
    """A text field's value, stripped; '' when absent or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def form_id(form: FormData, name: str, back: str, what: str) -> uuid.UUID:
    """A field naming a row by id; a malformed one is the same "not found" as a foreign one."""
    try:
        return uuid.UUID(text(form, name))
    except ValueError as exc:
        raise FormError(back, f"{what} not found") from exc


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in error["loc"] if p != "body")
        message = str(error["msg"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "Invalid input"


@contextmanager
def failing_back_to(url: str) -> Iterator[None]:
    """Turn a refusal by the schemas or the services into a FormError (a flash on ``url``)."""
    try:
        yield
    except ValidationError as exc:
        raise FormError(url, _validation_message(exc)) from exc
    except ConvobaseError as exc:
        if exc.status_code >= 500:
            raise
        details = exc.details.get("errors") if isinstance(exc.details, dict) else None
        message = exc.message
        if isinstance(details, list) and details:
            first = details[0]
            if isinstance(first, dict) and first.get("msg"):
                where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
                message = f"{message}: {where + ': ' if where else ''}{first['msg']}"
        raise FormError(url, message) from exc

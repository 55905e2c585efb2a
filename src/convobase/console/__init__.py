"""The web console: server-rendered pages (Jinja2 + htmx) over the same services as the API.

``install(app)`` mounts the pages, the static assets and the console's error handling: on
console paths an error is an HTML page (or a redirect to sign in), elsewhere the API's JSON
handlers answer exactly as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from convobase.console import admin, chats, conversation, files, keys, signin, usage
from convobase.console import settings as settings_pages
from convobase.console.web import (
    STATIC_DIR,
    FormError,
    LoginRequired,
    login_redirect,
    render,
    see_other,
)
from convobase.errors import ConvobaseError

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def _is_console(request: Request) -> bool:
    return request.url.path == "/" or request.url.path.startswith("/console")


async def _call(handler: Handler, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result


def _html_errors(previous: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not _is_console(request):
            return await _call(previous, request, exc)
        status, message = 500, "Something went wrong"
        if isinstance(exc, ConvobaseError):
            status, message = exc.status_code, exc.message
        elif isinstance(exc, RequestValidationError):
            # A malformed id in a console URL names nothing: the same 404 as a foreign id.
            status, message = 404, "Not found"
        elif isinstance(exc, StarletteHTTPException):
            status = exc.status_code
            message = "Not found" if status == 404 else str(exc.detail)
        if status >= 500:
            return await _call(previous, request, exc)
        return render(request, "error.html", status_code=status, status=status, message=message)

    return handle


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return login_redirect(exc.next_path)


async def _form_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormError)
    return see_other(request, exc.url, exc.message, kind="error")


def install(app: FastAPI) -> None:
    """Mount the console on ``app`` (after the API's error handlers are installed)."""

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    for module in (signin, chats, conversation, settings_pages, keys, files, usage, admin):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(FormError, _form_error)
    for exc_type in (ConvobaseError, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(exc_type, _html_errors(app.exception_handlers[exc_type]))

"""The web console: server-rendered pages (Jinja2 + htmx) over the same services as the API.

``install(app)`` mounts the pages, the static assets and the console's error handling: on
console paths an error is an HTML page (or a redirect to sign in), elsewhere the API's JSON
handlers answer exactly as before.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from convobase.console import admin, chats, conversation, files, keys, signin, usage
from convobase.console import settings as settings_pages
from convobase.console.headers import ConsoleHeaders
from convobase.console.web import (
    STATIC_DIR,
    FormError,
    LoginRequired,
    is_console_path,
    is_fragment,
    login_redirect,
    optional_viewer,
    render,
    see_other,
)
from convobase.errors import ConvobaseError

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def _is_console(request: Request) -> bool:
    return is_console_path(request.url.path)


async def _call(handler: Handler, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result


def _validation(exc: RequestValidationError) -> tuple[int, str]:
    """A malformed id in the path names nothing (the same 404 as a foreign id); a bad query
    value is the caller's mistake, named."""
    errors = exc.errors()
    if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in errors):
        return 404, "Not found"
    parts = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in error.get("loc", ())[1:])
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
    return 400, "; ".join(parts) or "Invalid request"


def _message(response: Response) -> str:
    try:
        body = json.loads(bytes(response.body))
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return "Something went wrong"


_KEPT_HEADERS = ("retry-after", "www-authenticate", "allow", "content-range")


def _html_errors(previous: Handler) -> Handler:
    """On console paths every error is an HTML page (with the page headers); the API's own
    handler still runs for everything else, logging and shaping the message as it does."""

    async def page_for(request: Request, status: int, message: str) -> Response:
        # The signed-in viewer's layout and theme; not after a server error, which may be the
        # database failing (looking the viewer up would only fail again, or wait on a lock).
        viewer = await optional_viewer(request) if status < 500 else None
        return render(
            request, "error.html", viewer, status_code=status, status=status, message=message
        )

    async def handle(request: Request, exc: Exception) -> Response:
        if not _is_console(request):
            return await _call(previous, request, exc)
        if isinstance(exc, RequestValidationError):
            status, message = _validation(exc)
            return await page_for(request, status, message)
        answer = await _call(previous, request, exc)
        status = answer.status_code
        message = "Not found" if status == 404 else _message(answer)
        if status >= 500 and not isinstance(exc, ConvobaseError):
            message = "Something went wrong on our side; please try again"
        page = await page_for(request, status, message)
        for name in _KEPT_HEADERS:
            if name in answer.headers:
                page.headers[name] = answer.headers[name]
        return page

    return handle


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    redirect = login_redirect(exc.next_path)
    if is_fragment(request):  # htmx would follow a 303 and swap the sign-in page into a list
        return Response(status_code=401, headers={"HX-Redirect": redirect.headers["location"]})
    return redirect


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
    for exc_type, handler in list(app.exception_handlers.items()):  # the API's, incl. 500/503
        app.add_exception_handler(exc_type, _html_errors(handler))
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(FormError, _form_error)
    app.add_middleware(ConsoleHeaders)

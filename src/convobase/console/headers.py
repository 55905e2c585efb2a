"""Security headers on every console response, not only rendered pages: redirects, static
assets, refusals and errors raised before a page could render (pure ASGI, no body buffering).

A header a response already set is kept (rendered pages set the same values themselves). A
crash on a console path, before anything was sent, is answered here by the app's ``Exception``
handler (which logs it and, on console paths, renders the HTML error page): the outer request
middleware would otherwise answer the API's JSON 500.
"""

from __future__ import annotations

import inspect

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convobase.console.web import PAGE_HEADERS, STATIC_PREFIX, is_console_path

# Assets may be cached; everything else a console path answers is private to its user.
_STATIC_HEADERS = {k: v for k, v in PAGE_HEADERS.items() if k != "Cache-Control"}


class ConsoleHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_console_path(path):
            await self.app(scope, receive, send)
            return
        wanted = _STATIC_HEADERS if path.startswith(STATIC_PREFIX) else PAGE_HEADERS

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            handler = scope["app"].exception_handlers.get(Exception) if "app" in scope else None
            if started or handler is None:
                raise
            response = handler(Request(scope, receive), exc)
            response = await response if inspect.isawaitable(response) else response
            await response(scope, receive, send_with_headers)

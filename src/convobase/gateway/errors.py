"""The gateway speaks OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``.

Its routes use `OpenAIRoute`, which translates every error raised while handling a request
(dependencies included: authentication, validation) at the boundary, so clients built for
OpenAI (the official SDKs among them) read Convobase's errors as they read OpenAI's.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from convobase.db.outage import DATABASE_ERROR_TYPES, is_database_unavailable
from convobase.errors import ConvobaseError, DatabaseUnavailable, log_database_unavailable

# The gateway's routes, which answer in OpenAI's shape.
OPENAI_PATH_PREFIX = "/v1/"

# OpenAI's error types by HTTP status.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
}


class GatewayError(ConvobaseError):
    """An error the gateway answers itself (upstream failures, routing)."""

    def __init__(self, status: int, message: str, code: str, **kwargs: Any) -> None:
        self.status_code = status
        super().__init__(message, code=code, **kwargs)


def openai_error_body(
    status: int, message: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }


def openai_error(
    status: int,
    message: str,
    code: str | None,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = openai_error_body(status, message, code, param)
    return JSONResponse(body, status_code=status, headers=headers)


def _validation(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    if first.get("type") == "json_invalid":
        return openai_error(400, "The request body is not valid JSON", "invalid_json")
    message = f"{'.'.join(location) or 'body'}: {first.get('msg', 'invalid')}"
    return openai_error(400, message, "invalid_request", param=".".join(location) or None)


class OpenAIRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _validation(exc)
            except ConvobaseError as exc:
                return _translated(exc)
            except DATABASE_ERROR_TYPES as exc:
                if not is_database_unavailable(exc):
                    raise
                log_database_unavailable(exc)
                return _translated(DatabaseUnavailable())

        return translated


def _translated(exc: ConvobaseError) -> JSONResponse:
    status = 400 if exc.status_code == 422 else exc.status_code
    return openai_error(status, exc.message, exc.code, headers=exc.headers or None)

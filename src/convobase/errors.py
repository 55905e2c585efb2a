"""One error tree, mapped to one JSON shape: ``{"error": {"code", "message", "details"}}``.

Services raise these; ``install_error_handlers`` translates them (and FastAPI's own validation
and routing errors) at the HTTP boundary, so no handler builds an error response by hand.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from convobase.db.outage import DATABASE_ERROR_TYPES, error_chain, is_database_unavailable

log = structlog.get_logger("convobase.errors")


class ConfigError(Exception):
    """The configuration cannot run; raised before serving anything."""


class ConvobaseError(Exception):
    status_code = 500
    code = "internal_error"
    message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ConvobaseError):
    status_code = 400
    code = "bad_request"
    message = "Bad request"


class Unauthorized(ConvobaseError):
    status_code = 401
    code = "unauthorized"
    message = "Authentication required"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(ConvobaseError):
    status_code = 403
    code = "forbidden"
    message = "Not allowed"


class NotFound(ConvobaseError):
    status_code = 404
    code = "not_found"
    message = "Not found"


class Conflict(ConvobaseError):
    status_code = 409
    code = "conflict"
    message = "Conflict"


class PayloadTooLarge(ConvobaseError):
    status_code = 413
    code = "payload_too_large"
    message = "Request body too large"


class ValidationFailed(ConvobaseError):
    status_code = 422
    code = "validation_error"
    message = "Invalid request"


class RateLimited(ConvobaseError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            message,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(ConvobaseError):
    status_code = 503
    code = "unavailable"
    message = "Service unavailable"


RETRY_AFTER_SECONDS = 1


class DatabaseUnavailable(ServiceUnavailable):
    """The database is restarting, unreachable, cut off or locked: retry shortly."""

    code = "database_unavailable"
    message = "The database is busy or unreachable; retry shortly"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        # Never echo the offending input back: it may be a password.
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return out


# character_not_in_repertoire (NUL in text), untranslatable_character (\u0000 in JSON)
_UNSTORABLE_CHARACTERS = {"22021", "22P05"}


def _sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE of a driver error, from the adapter or the asyncpg error behind it."""
    for cause in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ConvobaseError)
    async def _convobase(_: Request, exc: ConvobaseError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_details(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return error_response(
                400, "invalid_json", "Request body is not valid JSON", {"errors": errors}
            )
        return error_response(422, "validation_error", "Invalid request", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        limit = request.scope.get("state", {}).get("body_too_large")
        if limit is not None:
            return error_response(413, "payload_too_large", f"Request body exceeds {limit} bytes")
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"No route for {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"Method {request.method} not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, code, message, None, dict(exc.headers or {}))

    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL refuses U+0000 in text and JSON (SQLite stores it): the client's data,
        # whichever field carried it, is a 422; the transaction is rolled back, nothing stored.
        if isinstance(exc, DBAPIError) and _sqlstate(exc) in _UNSTORABLE_CHARACTERS:
            return error_response(
                422,
                "invalid_characters",
                "The request contains characters that cannot be stored (U+0000)",
            )
        return await _unexpected(request, exc)

    # Every type that may carry a database outage; outage() decides which instances are one.
    for exc_type in DATABASE_ERROR_TYPES:
        app.add_exception_handler(exc_type, _database_error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            return database_unavailable_response(exc)
        log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return error_response(500, "internal_error", "Internal server error")


def log_database_unavailable(exc: BaseException) -> None:
    """One warning line naming the driver error (no traceback: an outage is not a bug)."""
    log.warning(
        "database_unavailable",
        error_type=type(exc).__name__,
        cause=" <- ".join(type(link).__name__ for link in error_chain(exc)[1:]) or None,
    )


def database_unavailable_response(exc: BaseException) -> JSONResponse:
    log_database_unavailable(exc)
    unavailable = DatabaseUnavailable()
    return error_response(
        unavailable.status_code, unavailable.code, unavailable.message, None, unavailable.headers
    )


def install_unavailable_handlers(app: FastAPI) -> None:
    """A Redis or file store that is down or slow is a 503, not a bug."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from convobase.backends.storage import StorageUnavailable

    def handler(code: str, what: str) -> Any:
        async def respond(_: Request, exc: Exception) -> JSONResponse:
            log.warning(code, error_type=type(exc).__name__)
            return error_response(
                503,
                code,
                f"The {what} is busy or unreachable; retry shortly",
                headers={"Retry-After": "1"},
            )

        return respond

    # The database's outages are told apart from its other errors in install_error_handlers.
    causes: dict[str, tuple[str, tuple[type[Exception], ...]]] = {
        "session and rate-limit store": (
            "store_unavailable",
            (RedisConnectionError, RedisTimeoutError),
        ),
        "file storage": ("storage_unavailable", (StorageUnavailable,)),
    }
    for what, (code, exc_types) in causes.items():
        for exc_type in exc_types:
            app.add_exception_handler(exc_type, handler(code, what))

"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path).

``RequestContextMiddleware``: X-Request-ID on every response (even a crash), the id bound into
the logs, one access log line, and the request body size limit.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convobase.db.outage import is_database_unavailable
from convobase.errors import DatabaseUnavailable, error_body, log_database_unavailable
from convobase.gateway.errors import OPENAI_PATH_PREFIX, openai_error_body

log = structlog.get_logger("convobase.access")

BODY_TOO_LARGE = "body_too_large"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _BodyTooLarge(Exception):
    pass


def _json_bytes(status: int, code: str, message: str) -> bytes:
    return json.dumps(error_body(code, message), separators=(",", ":")).encode()


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log: bool,
        path_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        # Larger ceilings for the few routes that take big bodies (uploads); the route itself
        # enforces its exact limit while streaming.
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        limit = self.path_limits.get(scope["path"], self.max_body_bytes)
        if _declared_length(scope) > limit:
            await self._send_error(
                send, 413, "payload_too_large", f"Request body exceeds {limit} bytes", header
            )
            status = 413
            self._log(scope, status, started)
            return

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI turns errors while reading a body into a 400; the flag lets the
                    # error handler answer 413 instead.
                    scope["state"][BODY_TOO_LARGE] = limit
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, receive_limited, send_wrapper)
        except _BodyTooLarge:
            if not response_started:
                status = 413
                await self._send_error(
                    send, 413, "payload_too_large", f"Request body exceeds {limit} bytes", header
                )
        except Exception as exc:
            if is_database_unavailable(exc):
                # Raised outside the error handlers: in a streamed body (the status is sent
                # already; the client sees the stream cut) or in a middleware.
                log_database_unavailable(exc)
                if not response_started:
                    status = 503
                    await self._send_database_unavailable(send, scope["path"], header)
                return
            log.exception("unhandled_error", path=scope["path"], error_type=type(exc).__name__)
            if not response_started:
                status = 500
                await self._send_error(send, 500, "internal_error", "Internal server error", header)
        finally:
            self._log(scope, status, started)
            structlog.contextvars.unbind_contextvars("request_id")

    def _log(self, scope: Scope, status: int, started: float) -> None:
        if self.access_log:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )

    @staticmethod
    async def _send_error(
        send: Send, status: int, code: str, message: str, header: tuple[bytes, bytes]
    ) -> None:
        await _send_json(send, status, _json_bytes(status, code, message), [header])

    @staticmethod
    async def _send_database_unavailable(
        send: Send, path: str, header: tuple[bytes, bytes]
    ) -> None:
        unavailable = DatabaseUnavailable()
        status, code, message = unavailable.status_code, unavailable.code, unavailable.message
        if path.startswith(OPENAI_PATH_PREFIX):
            body = json.dumps(openai_error_body(status, message, code)).encode()
        else:
            body = _json_bytes(status, code, message)
        retry_after = (b"retry-after", unavailable.headers["Retry-After"].encode())
        await _send_json(send, status, body, [header, retry_after])


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _VALID_REQUEST_ID.match(candidate) else None
    return None


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0

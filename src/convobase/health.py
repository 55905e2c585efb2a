"""/healthz: the process is alive. /readyz: the database, session store and file storage answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from convobase.errors import error_response
from convobase.runtime import Runtime

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(name: str, probe: Any) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return name, type(exc).__name__
    return name, None


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> JSONResponse | dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    probes = [
        _check("database", runtime.database.ping()),
        _check("storage", runtime.storage.ping()),
    ]
    if runtime.redis is not None:
        probes.append(_check("redis", runtime.redis.ping()))
    results = dict(await asyncio.gather(*probes))
    failed = {name: error for name, error in results.items() if error}
    checks = {name: ("ok" if error is None else "unavailable") for name, error in results.items()}
    if failed:
        return error_response(
            503, "not_ready", "A dependency is unreachable", {"checks": checks, "errors": failed}
        )
    return {"status": "ok", "checks": checks}

"""`POST /v1/chat/completions` and `GET /v1/models`, OpenAI's wire format and error shape."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from starlette.responses import StreamingResponse

from convobase.auth.dependencies import PrincipalOutsideTransaction, RuntimeDep
from convobase.gateway import routing, service
from convobase.gateway.errors import GatewayError, OpenAIRoute
from convobase.gateway.schemas import ChatRequest
from convobase.gateway.upstream import Outcome

router = APIRouter(prefix="/v1", tags=["gateway"], route_class=OpenAIRoute)


@router.get("/models")
async def list_models(_: PrincipalOutsideTransaction, runtime: RuntimeDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": provider}
            for model, provider in routing.listed_models(runtime.settings.providers)
        ],
    }


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    request: ChatRequest,
    principal: PrincipalOutsideTransaction,
    runtime: RuntimeDep,
    x_convobase_conversation: Annotated[uuid.UUID | None, Header()] = None,
) -> JSONResponse | StreamingResponse:
    step = await service.plan(runtime, principal.user, request, x_convobase_conversation)
    try:
        if step.stream:
            chunks = await step.upstream.stream(step.body)
        else:
            answer = await step.upstream.complete(step.body)
    except GatewayError as exc:
        await service.persist(runtime, step, Outcome(), "error", exc.code)
        raise
    except BaseException:
        with anyio.CancelScope(shield=True):
            await service.persist(runtime, step, Outcome(), "error", "interrupted")
        raise
    if not step.stream:
        await service.persist(runtime, step, Outcome.of_completion(answer), "complete")
        return JSONResponse(answer, headers=service.ids_headers(step))
    return StreamingResponse(
        _relay(runtime, step, chunks),
        media_type="text/event-stream",
        headers={**service.ids_headers(step), "Cache-Control": "no-cache"},
    )


async def _relay(
    runtime: Any, step: service.Plan, chunks: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[bytes]:
    """Forward the upstream's chunks; whatever happens, store what arrived."""
    outcome = Outcome()
    status, error_code = "incomplete", None
    try:
        async for chunk in chunks:
            outcome.absorb(chunk)
            if not chunk.get("choices") and chunk.get("usage") and not step.include_usage:
                continue  # we asked for usage upstream; the client did not
            yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
        status = "complete"
        yield b"data: [DONE]\n\n"
    except GatewayError as exc:
        status, error_code = "incomplete", exc.code
        error = {"error": {"message": exc.message, "type": "api_error", "code": exc.code}}
        yield b"data: " + json.dumps(error).encode() + b"\n\n"
    finally:
        # Runs also when the client went away (the task is cancelled): shield the write.
        with anyio.CancelScope(shield=True):
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            await service.persist(runtime, step, outcome, status, error_code)

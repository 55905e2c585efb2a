"""A lean OpenAI-compatible model server for the gateway benchmark (served by uvicorn on its own).

`POST /v1/chat/completions` answers a short fixed completion at once, or, with `"stream": true`,
a role chunk at once and then ``FAKE_UPSTREAM_CHUNKS`` one-word chunks, each after a sleep of
``FAKE_UPSTREAM_DELAY_MS`` (so concurrent streams overlap), a finish chunk, the usage chunk when
`stream_options.include_usage` asks for it, and `[DONE]`. Nothing is recorded (unlike the test
fixture in tests/fixtures/upstream.py), so memory stays flat however long the run.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

CHUNKS = int(os.environ.get("FAKE_UPSTREAM_CHUNKS", "20"))
DELAY = float(os.environ.get("FAKE_UPSTREAM_DELAY_MS", "5")) / 1000
ANSWER = "Hello! How can I help you today?"
USAGE = {
    "prompt_tokens": 9,
    "completion_tokens": CHUNKS,
    "total_tokens": 9 + CHUNKS,
    "prompt_tokens_details": {"cached_tokens": 0},
}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _event(model: str, choices: list[dict[str, Any]], **extra: Any) -> bytes:
    data = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": choices,
        **extra,
    }
    return b"data: " + _dumps(data) + b"\n\n"


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    model = str(body.get("model", ""))
    if not body.get("stream"):
        answer = {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {**USAGE, "completion_tokens": 8, "total_tokens": 17},
        }
        return Response(_dumps(answer), media_type="application/json")
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    async def events() -> AsyncIterator[bytes]:
        yield _event(model, [{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for i in range(CHUNKS):
            await asyncio.sleep(DELAY)
            word = f"word{i}" if i == 0 else f" word{i}"
            yield _event(model, [{"index": 0, "delta": {"content": word}}])
        yield _event(model, [{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if include_usage:
            yield _event(model, [], usage=USAGE)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def health(_: Request) -> Response:
    return Response(b"ok", media_type="text/plain")


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/healthz", health),
    ]
)

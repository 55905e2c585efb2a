"""The hot paths, driven through the real ASGI app, and what each request costs the database.

Shared by the statement-budget test (tests/perf/test_statement_budget.py) and the hot-path
benchmark (benchmarks/bench_hotpaths.py), so both count exactly the same requests.

Counts are taken in the steady state: each path is first sent a few times (the pool's
connections open, asyncpg prepares its statements, the throttled session and API-key "last
used" updates happen once), then every measured request is counted on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.perf.counter import Counts, StatementCounter

PASSWORD = "hot path password"
MESSAGE_BODY = {"role": "user", "content": "How long does a request take?"}
CHAT_BODY = {"model": "echo-1", "messages": [{"role": "user", "content": "Say hello."}]}
STREAM_BODY = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
PATHS = (
    "auth_me_session",
    "auth_me_api_key",
    "append_message",
    "list_messages_current",
    "chat_completions",
    "chat_completions_stream",
)


def providers(upstream_base: str) -> list[dict[str, Any]]:
    """The gateway's provider list for an OpenAI-compatible upstream at ``upstream_base``."""
    return [
        {
            "name": "openai",
            "kind": "openai",
            "base_url": f"{upstream_base}/v1",
            "models": ["echo-1"],
        }
    ]


@dataclass
class Caller:
    """A signed-up user with a session token, an API key and a conversation with messages."""

    token: str
    api_key: str
    conversation_id: str

    @property
    def session_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> Caller:
    email = email or f"hot-{uuid.uuid4().hex[:8]}@example.com"
    signed = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    signed.raise_for_status()
    headers = {"Authorization": f"Bearer {signed.json()['session']['token']}"}
    client.cookies.clear()  # Bearer only, like an API client
    key = await client.post("/api/v1/api-keys", json={"name": "hot paths"}, headers=headers)
    key.raise_for_status()
    conversation = await client.post("/api/v1/conversations", json={}, headers=headers)
    conversation.raise_for_status()
    caller = Caller(signed.json()["session"]["token"], key.json()["key"], conversation.json()["id"])
    for _ in range(2):  # a short history for the listing
        appended = await client.post(
            f"/api/v1/conversations/{caller.conversation_id}/messages",
            json=MESSAGE_BODY,
            headers=headers,
        )
        appended.raise_for_status()
    client.cookies.clear()
    return caller


async def send(client: httpx.AsyncClient, caller: Caller, path: str) -> httpx.Response:
    """One request of ``path``; fails unless it succeeded."""
    messages = f"/api/v1/conversations/{caller.conversation_id}/messages"
    if path == "auth_me_session":
        response = await client.get("/api/v1/auth/me", headers=caller.session_headers)
    elif path == "auth_me_api_key":
        response = await client.get("/api/v1/auth/me", headers=caller.key_headers)
    elif path == "append_message":
        response = await client.post(messages, json=MESSAGE_BODY, headers=caller.session_headers)
    elif path == "list_messages_current":
        response = await client.get(
            messages, params={"leaf_id": "current"}, headers=caller.session_headers
        )
    elif path == "chat_completions":
        response = await client.post(
            "/v1/chat/completions", json=CHAT_BODY, headers=caller.session_headers
        )
    elif path == "chat_completions_stream":
        response = await client.post(
            "/v1/chat/completions", json=STREAM_BODY, headers=caller.session_headers
        )
        if not response.text.endswith("data: [DONE]\n\n"):
            raise AssertionError(f"{path}: the stream did not finish: {response.text[-200:]}")
    else:
        raise ValueError(f"unknown hot path {path!r}")
    client.cookies.clear()
    if response.status_code >= 300:
        raise AssertionError(f"{path}: {response.status_code} {response.text[:500]}")
    return response


@dataclass
class PathCounts:
    path: str
    requests: list[Counts] = field(default_factory=list)

    @property
    def worst(self) -> dict[str, int]:
        """Per measure, the most any measured request took (they normally all agree)."""
        summaries = [counts.summary() for counts in self.requests]
        return {key: max(s[key] for s in summaries) for key in summaries[0]}

    @property
    def sql(self) -> list[str]:
        return max(self.requests, key=lambda counts: counts.statements).sql

    @property
    def round_trip_kinds(self) -> dict[str, int]:
        return dict(max(self.requests, key=lambda counts: counts.round_trips).round_trip_kinds)


async def count_hot_paths(
    app: Any,
    *,
    paths: tuple[str, ...] = PATHS,
    warmup: int = 3,
    repeat: int = 3,
    caller: Caller | None = None,
) -> dict[str, PathCounts]:
    """Per path, the database work of ``repeat`` steady-state requests through ``app``.

    ``app`` must be running (its lifespan entered); its real engine is watched. A new user is
    signed up unless ``caller`` is given.
    """
    counter = StatementCounter(app.state.runtime.database.engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        caller = caller or await sign_up(client)
        await counter.attach()
        try:
            results = {}
            for path in paths:
                for _ in range(warmup):
                    await send(client, caller, path)
                counted = PathCounts(path)
                for _ in range(repeat):
                    counter.reset()
                    await send(client, caller, path)
                    counted.requests.append(counter.reset())
                results[path] = counted
        finally:
            counter.detach()
    return results

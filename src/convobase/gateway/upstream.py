"""Calling an upstream: OpenAI-compatible as is, Anthropic through a translation (anthropic.py).

Transport errors become gateway errors here, at the boundary: a timeout is a 504, a refused or
broken connection a 502 (retried by the transport only when nothing was sent, so never twice),
an upstream's own error is passed through with its status in OpenAI's shape, and a body that is
not what the protocol promises is a 502.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from convobase.config import ProviderConfig, Settings
from convobase.gateway.errors import GatewayError

_MAX_ERROR_BODY = 64 * 1024


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass
class Outcome:
    """What the model answered, however it arrived (whole or streamed)."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None

    def absorb(self, chunk: dict[str, Any]) -> None:
        """Fold one OpenAI streaming chunk in."""
        self.model = chunk.get("model") or self.model
        if chunk.get("usage"):
            self.usage = usage_of(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self.text += delta["content"]
            for call in delta.get("tool_calls") or []:
                index = call.get("index", 0)
                while len(self.tool_calls) <= index:
                    self.tool_calls.append(
                        {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                target = self.tool_calls[index]
                target["id"] = call.get("id") or target["id"]
                function = call.get("function") or {}
                target["function"]["name"] += function.get("name") or ""
                target["function"]["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    @classmethod
    def of_completion(cls, body: dict[str, Any]) -> Outcome:
        outcome = cls(model=body.get("model"))
        choices = body.get("choices") or []
        if choices:
            message = choices[0].get("message") or {}
            content = message.get("content")
            outcome.text = content if isinstance(content, str) else ""
            outcome.tool_calls = list(message.get("tool_calls") or [])
            outcome.finish_reason = choices[0].get("finish_reason")
        if body.get("usage"):
            outcome.usage = usage_of(body["usage"])
        return outcome


def usage_of(raw: dict[str, Any]) -> Usage:
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
        cache_write_tokens=int(details.get("cache_write_tokens") or 0),
    )


def make_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        settings.gateway_timeout_seconds, connect=settings.gateway_connect_timeout_seconds
    )
    # httpx retries only connection failures, before any byte of the request is sent.
    transport = httpx.AsyncHTTPTransport(retries=settings.gateway_connect_retries)
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    return httpx.AsyncClient(timeout=timeout, transport=transport, limits=limits)


def provider_timeout(provider: ProviderConfig) -> httpx.Timeout | None:
    if provider.timeout_seconds is None:
        return None
    return httpx.Timeout(provider.timeout_seconds, connect=min(provider.timeout_seconds, 10.0))


def translate_transport_error(provider: ProviderConfig, exc: httpx.HTTPError) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        return GatewayError(
            504, f"The {provider.name} upstream did not answer in time", "upstream_timeout"
        )
    return GatewayError(
        502, f"The {provider.name} upstream could not be reached", "upstream_unreachable"
    )


async def upstream_failure(provider: ProviderConfig, response: httpx.Response) -> GatewayError:
    """An upstream's error answer, kept in OpenAI's shape with its status."""
    raw = await response.aread()
    message = f"The {provider.name} upstream answered {response.status_code}"
    code: str | None = "upstream_error"
    try:
        body = json.loads(raw[:_MAX_ERROR_BODY])
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or message)[:2000]
            code = str(error.get("code") or error.get("type") or code)
    except ValueError:
        pass
    status = response.status_code if 400 <= response.status_code < 600 else 502
    return GatewayError(status, message, code or "upstream_error")


def invalid_response(provider: ProviderConfig) -> GatewayError:
    return GatewayError(
        502, f"The {provider.name} upstream sent an invalid response", "upstream_invalid_response"
    )


def _post(
    client: httpx.AsyncClient,
    provider: ProviderConfig,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
) -> httpx.Request:
    return client.build_request(
        "POST",
        provider.base_url.rstrip("/") + path,
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
        timeout=provider_timeout(provider) or httpx.USE_CLIENT_DEFAULT,
    )


async def post_json(
    client: httpx.AsyncClient,
    provider: ProviderConfig,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    list_field: str,
) -> dict[str, Any]:
    """POST ``body``; the JSON answer, which must be an object with a list at ``list_field``."""
    try:
        response = await client.send(_post(client, provider, path, body, headers))
    except httpx.HTTPError as exc:
        raise translate_transport_error(provider, exc) from exc
    if response.status_code >= 400:
        raise await upstream_failure(provider, response)
    try:
        answer = response.json()
    except ValueError as exc:
        raise invalid_response(provider) from exc
    if not isinstance(answer, dict) or not isinstance(answer.get(list_field), list):
        raise invalid_response(provider)
    return answer


async def open_stream(
    client: httpx.AsyncClient,
    provider: ProviderConfig,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
) -> httpx.Response:
    """POST ``body`` and return the streaming response once it is known to be an event stream."""
    try:
        response = await client.send(_post(client, provider, path, body, headers), stream=True)
    except httpx.HTTPError as exc:
        raise translate_transport_error(provider, exc) from exc
    await check_stream(provider, response)
    return response


class OpenAIUpstream:
    """Any OpenAI-compatible server: OpenAI, Groq, OpenRouter, Together, Ollama, vLLM..."""

    def __init__(self, client: httpx.AsyncClient, provider: ProviderConfig, api_key: str | None):
        self.client = client
        self.provider = provider
        self.api_key = api_key

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        return await post_json(
            self.client,
            self.provider,
            "/chat/completions",
            body,
            self._headers(),
            list_field="choices",
        )

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The upstream's chunks, once the upstream has answered with an event stream."""
        body = {**body, "stream": True}
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        response = await open_stream(
            self.client, self.provider, "/chat/completions", body, self._headers()
        )
        return _sse_chunks(self.provider, response)


async def check_stream(provider: ProviderConfig, response: httpx.Response) -> None:
    """Raise (closing the response) unless it is a successful event stream."""
    failure: GatewayError | None = None
    if response.status_code >= 400:
        failure = await upstream_failure(provider, response)
    elif "text/event-stream" not in response.headers.get("content-type", ""):
        failure = invalid_response(provider)
    if failure is not None:
        await response.aclose()
        raise failure


async def _sse_chunks(
    provider: ProviderConfig, response: httpx.Response
) -> AsyncIterator[dict[str, Any]]:
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError as exc:
                raise invalid_response(provider) from exc
            if not isinstance(chunk, dict):
                raise invalid_response(provider)
            yield chunk
    except httpx.HTTPError as exc:
        raise translate_transport_error(provider, exc) from exc
    finally:
        await response.aclose()

"""Gateway tests: the app behind the official OpenAI SDK, upstreams from tests/fixtures/upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from tests.helpers import Account, signup


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    """Parametrize in a test for more settings (quotas...)."""
    return {}


@pytest.fixture
def settings_overrides(upstream_url: str, gateway_settings: dict[str, Any]) -> dict[str, Any]:
    return gateway_settings | {
        "providers": [
            {
                "name": "openai",
                "kind": "openai",
                "base_url": f"{upstream_url}/v1",
                "api_key": "sk-server-key",
                "models": [
                    "gpt-4o-mini",
                    "echo-1",
                    "tool-1",
                    "garbage-1",
                    "fail-1",
                    "fail-5xx",
                    "drip-1",
                ],
            },
            {
                "name": "local",
                "kind": "openai",
                "base_url": f"{upstream_url}/v1",
                "model_prefix": "local/",
            },
            {
                "name": "slowpoke",
                "kind": "openai",
                "base_url": f"{upstream_url}/v1",
                "models": ["slow-1"],
                "timeout_seconds": 0.5,
            },
            {
                "name": "anthropic",
                "kind": "anthropic",
                "base_url": f"{upstream_url}/anthropic/v1",
                "api_key": "sk-ant-server",
                "models": ["claude-3-5-haiku-20241022"],
            },
            {
                "name": "nowhere",
                "kind": "openai",
                "base_url": "http://127.0.0.1:1/v1",
                "models": ["ghost-1"],
            },
        ],
        "gateway_connect_retries": 0,
    }


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    user = await signup(client)
    client.cookies.clear()  # the SDK authenticates with the Bearer token only
    return user


@pytest.fixture
async def sdk(app: Any, account: Account) -> AsyncIterator[openai.AsyncOpenAI]:
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    client = openai.AsyncOpenAI(
        api_key=account.token, base_url="http://testserver/v1", http_client=http, max_retries=0
    )
    yield client
    await client.close()

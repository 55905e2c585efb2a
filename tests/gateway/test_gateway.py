"""The gateway through the official OpenAI SDK: persistence, metering, quotas, errors."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.fixtures.upstream import RECEIVED
from tests.helpers import Account, new_conversation


async def path_of(
    client: httpx.AsyncClient, account: Account, conversation_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages",
        headers=account.headers,
        params={"leaf_id": "current"},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def events(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    return list((await client.get("/api/v1/usage/events", headers=account.headers)).json()["data"])


async def test_completion_is_answered_stored_and_metered(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    raw = await sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there"},
        ],
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: Hello there"
    conversation_id = raw.headers["x-convobase-conversation"]
    message_id = raw.headers["x-convobase-message"]
    # The server's key went upstream, not the user's session token.
    assert RECEIVED[-1]["headers"]["authorization"] == "Bearer sk-server-key"

    stored = await path_of(client, account, conversation_id)
    assert [m["role"] for m in stored] == ["system", "user", "assistant"]
    answer = stored[-1]
    assert answer["id"] == message_id and answer["content"] == "Echo: Hello there"
    assert answer["metadata"]["model"] == "gpt-4o-mini"
    assert answer["metadata"]["provider"] == "openai"
    assert answer["metadata"]["finish_reason"] == "stop"
    assert answer["metadata"]["input_tokens"] == completion.usage.prompt_tokens
    assert answer["metadata"]["cost_usd"] > 0
    conversation = (
        await client.get(f"/api/v1/conversations/{conversation_id}", headers=account.headers)
    ).json()
    assert conversation["title"] == "Hello there"

    [event] = await events(client, account)
    assert event["status"] == "success" and event["model"] == "gpt-4o-mini"
    assert event["input_tokens"] == completion.usage.prompt_tokens
    assert event["output_tokens"] == completion.usage.completion_tokens
    assert event["cost_usd"] == pytest.approx(answer["metadata"]["cost_usd"])
    assert event["conversation_id"] == conversation_id and event["message_id"] == message_id

    # The next turn, sent with the whole history, appends only what is new.
    again = await sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Echo: Hello there"},
            {"role": "user", "content": "And again"},
        ],
        extra_body={"conversation_id": conversation_id},
    )
    assert again.headers["x-convobase-conversation"] == conversation_id
    stored = await path_of(client, account, conversation_id)
    assert [m["content"] for m in stored] == [
        "Be brief.",
        "Hello there",
        "Echo: Hello there",
        "And again",
        "Echo: And again",
    ]
    # Convobase's own field never reaches the upstream.
    assert "conversation_id" not in RECEIVED[-1]["body"]


async def test_editing_an_earlier_turn_starts_a_branch(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    first = await sdk.chat.completions.with_raw_response.create(
        model="echo-1", messages=[{"role": "user", "content": "Tell me a joke"}]
    )
    conversation_id = first.headers["x-convobase-conversation"]
    edited = await sdk.chat.completions.with_raw_response.create(
        model="echo-1",
        messages=[{"role": "user", "content": "Tell me a poem"}],
        extra_headers={"X-Convobase-Conversation": conversation_id},
    )
    assert edited.headers["x-convobase-conversation"] == conversation_id
    stored = await path_of(client, account, conversation_id)
    assert [m["content"] for m in stored] == ["Tell me a poem", "Echo: Tell me a poem"]
    assert len(stored[0]["sibling_ids"]) == 2  # "2 / 2" on the first user turn


async def test_streaming_relays_chunks_and_stores_the_answer(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream me some words"}],
        stream=True,
    )
    pieces, usage_chunks = [], 0
    async for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        usage_chunks += chunk.usage is not None
    assert "".join(pieces) == "Echo: Stream me some words"
    assert usage_chunks == 0  # not asked for: the gateway asked upstream for it, and kept it
    assert RECEIVED[-1]["body"]["stream_options"] == {"include_usage": True}
    [event] = await events(client, account)
    assert event["input_tokens"] > 0 and event["output_tokens"] > 0 and event["status"] == "success"
    stored = await path_of(client, account, event["conversation_id"])
    assert stored[-1]["content"] == "Echo: Stream me some words"
    assert stored[-1]["status"] == "complete"

    with_usage = await sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Count me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    last = None
    async for chunk in with_usage:
        last = chunk
    assert last is not None and last.usage is not None and last.usage.completion_tokens > 0


async def test_tool_calls_are_kept_as_parts(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    for stream in (False, True):
        raw = await sdk.chat.completions.with_raw_response.create(
            model="tool-1",
            messages=[{"role": "user", "content": "Weather?"}],
            tools=tools,
            stream=stream,
        )
        if stream:
            async for _ in raw.parse():
                pass
        else:
            call = raw.parse().choices[0].message.tool_calls[0]
            assert call.function.name == "get_weather"
        stored = await path_of(client, account, raw.headers["x-convobase-conversation"])
        [part] = stored[-1]["parts"]
        assert part["type"] == "tool_call" and part["name"] == "get_weather"
        assert part["arguments"] == {"city": "Paris"}
        assert stored[-1]["metadata"]["finish_reason"] == "tool_calls"


async def test_anthropic_upstream_is_translated(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    completion = await sdk.chat.completions.create(
        model="claude-3-5-haiku-20241022",
        messages=[
            {"role": "system", "content": "Be nice."},
            {"role": "user", "content": "Hi Claude"},
        ],
        max_tokens=100,
    )
    assert completion.choices[0].message.content == "Echo: Hi Claude"
    sent = RECEIVED[-1]
    assert sent["path"] == "/anthropic/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant-server"
    assert sent["body"]["system"] == "Be nice."
    assert sent["body"]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi Claude"}]}
    ]
    # Cache reads count in prompt tokens, as OpenAI reports them.
    assert completion.usage.prompt_tokens == 15
    assert completion.usage.prompt_tokens_details.cached_tokens == 4

    stream = await sdk.chat.completions.create(
        model="claude-3-5-haiku-20241022",
        messages=[{"role": "user", "content": "Stream, Claude"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == "Echo: Stream, Claude"
    assert usage is not None and usage.prompt_tokens == 15
    recorded = await events(client, account)
    assert {e["provider"] for e in recorded} == {"anthropic"}
    assert all(e["cost_usd"] is not None for e in recorded)  # a model the price table knows


async def test_models_routing_and_user_defaults(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    listed = await sdk.models.list()
    ids = {m.id for m in listed.data}
    assert {"gpt-4o-mini", "claude-3-5-haiku-20241022"} <= ids
    # A prefix ending in "/" routes and is cut before the model name goes upstream.
    await sdk.chat.completions.create(
        model="local/my-llama", messages=[{"role": "user", "content": "x"}]
    )
    assert RECEIVED[-1]["body"]["model"] == "my-llama"
    [event] = await events(client, account)
    assert event["cost_usd"] is None and event["price_unknown"] is True  # self-hosted: no price
    # The user's preferences fill what the request leaves open.
    response = await client.patch(
        "/api/v1/preferences",
        headers=account.headers,
        json={"default_model": {"general": "echo-1"}, "temperature": 0.2, "max_tokens": 77},
    )
    assert response.status_code == 200, response.text
    raw = await client.post(
        "/v1/chat/completions",
        headers=account.headers,
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert raw.status_code == 200, raw.text
    sent = RECEIVED[-1]["body"]
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("echo-1", 0.2, 77)
    # A conversation's system prompt is sent when the request has none.
    conversation = await new_conversation(client, account, system_prompt="You are a pirate.")
    await sdk.chat.completions.create(
        model="echo-1",
        messages=[{"role": "user", "content": "Ahoy"}],
        extra_body={"conversation_id": conversation["id"]},
    )
    assert RECEIVED[-1]["body"]["messages"][0] == {"role": "system", "content": "You are a pirate."}


async def test_bad_requests_in_openai_shape(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account, app: Any
) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        await sdk.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        await sdk.chat.completions.create(model="echo-1", messages=[])
    with pytest.raises(openai.BadRequestError):
        await sdk.chat.completions.create(
            model="echo-1", messages=[{"role": "wizard", "content": "x"}]
        )  # type: ignore[list-item,misc]
    missing = await client.post(
        "/v1/chat/completions",
        headers=account.headers,
        json={"messages": [{"role": "user", "content": "x"}]},
    )
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_model"
    bad_json = await client.post(
        "/v1/chat/completions",
        headers={**account.headers, "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert bad_json.status_code == 400 and set(bad_json.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }
    unauthenticated = await client.post(
        "/v1/chat/completions", json={"model": "echo-1", "messages": []}
    )
    assert (
        unauthenticated.status_code == 401
        and unauthenticated.json()["error"]["type"] == "authentication_error"
    )
    other = await new_conversation(client, account)
    from tests.helpers import signup

    stranger = await signup(client)
    client.cookies.clear()
    foreign = await client.post(
        "/v1/chat/completions",
        headers=stranger.headers,
        json={
            "model": "echo-1",
            "messages": [{"role": "user", "content": "x"}],
            "conversation_id": other["id"],
        },
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    too_big = await client.post(
        "/v1/chat/completions",
        headers=account.headers,
        json={"model": "echo-1", "messages": [{"role": "user", "content": "x" * 9_000_000}]},
    )
    assert too_big.status_code == 413
    # None of these reached an upstream or stored anything.
    assert await events(client, account) == []
    listed = await client.get("/api/v1/conversations", headers=account.headers)
    assert [c["id"] for c in listed.json()["data"]] == [other["id"]]


async def consume(sdk: openai.AsyncOpenAI, model: str, *, stream: bool) -> None:
    response = await sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello"}], stream=stream
    )
    if stream:
        async for _ in response:  # type: ignore[union-attr]
            pass


@pytest.mark.parametrize(
    ("model", "status", "code", "error"),
    [
        ("slow-1", 504, "upstream_timeout", openai.APIStatusError),
        ("ghost-1", 502, "upstream_unreachable", openai.APIStatusError),
        ("garbage-1", 502, "upstream_invalid_response", openai.APIStatusError),
        ("fail-1", 400, "bad_thing", openai.BadRequestError),
        ("fail-5xx", 503, "bad_thing", openai.APIStatusError),
    ],
)
async def test_upstream_failures_are_clear_and_metered(
    sdk: openai.AsyncOpenAI,
    client: httpx.AsyncClient,
    account: Account,
    model: str,
    status: int,
    code: str,
    error: type[Exception],
) -> None:
    for stream in (False, True):
        with pytest.raises(error) as caught:
            await consume(sdk, model, stream=stream)
        assert getattr(caught.value, "status_code", None) == status
        assert getattr(caught.value, "code", None) == code
    recorded = await events(client, account)
    assert len(recorded) == 2 and {e["status"] for e in recorded} == {"error"}
    assert all(e["conversation_id"] is None for e in recorded)
    listed = await client.get("/api/v1/conversations", headers=account.headers)
    assert listed.json()["data"] == []  # nothing half-stored


@pytest.mark.parametrize("gateway_settings", [{"quota_requests_per_day": 1}])
async def test_over_quota_is_429_without_calling_upstream(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    await sdk.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": "one"}])
    calls = len(RECEIVED)
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk.chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": "two"}]
        )
    assert refused.value.code == "quota_exceeded"
    assert len(RECEIVED) == calls
    quota = (await client.get("/api/v1/quotas", headers=account.headers)).json()
    assert quota["requests_per_day"]["used"] == 1 and quota["requests_per_day"]["reserved"] == 0


def test_sync_sdk_against_a_real_server(tmp_path: Any, upstream_url: str) -> None:
    """The synchronous SDK, over real HTTP, streaming and not."""

    from tests.e2e.process import serve, server_env

    providers = [{"name": "openai", "base_url": f"{upstream_url}/v1", "models": ["echo-1"]}]
    env = server_env(tmp_path / "data", providers=providers)
    with serve(env, tmp_path / "server.log") as base:
        signed = httpx.post(
            f"{base}/api/v1/auth/signup",
            json={"email": "sdk@example.com", "password": "sdk test pass"},
        )
        client = openai.OpenAI(
            api_key=signed.json()["session"]["token"], base_url=f"{base}/v1", max_retries=0
        )
        completion = client.chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": "sync"}]
        )
        assert completion.choices[0].message.content == "Echo: sync"
        text = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in client.chat.completions.create(
                model="echo-1", messages=[{"role": "user", "content": "sync stream"}], stream=True
            )
            if chunk.choices
        )
        assert text == "Echo: sync stream"
    assert "sk-" not in (tmp_path / "server.log").read_text()


def test_an_abandoned_stream_keeps_what_was_generated(tmp_path: Any, upstream_url: str) -> None:
    """The client leaves mid-stream (real server, real socket): the partial answer is stored."""
    import time

    from tests.e2e.process import serve, server_env

    providers = [{"name": "openai", "base_url": f"{upstream_url}/v1", "models": ["drip-1"]}]
    env = server_env(tmp_path / "data", providers=providers)
    with serve(env, tmp_path / "server.log") as base:
        signed = httpx.post(
            f"{base}/api/v1/auth/signup",
            json={"email": "gone@example.com", "password": "abandon pass"},
        )
        headers = {"Authorization": f"Bearer {signed.json()['session']['token']}"}
        body = {
            "model": "drip-1",
            "stream": True,
            "messages": [{"role": "user", "content": "go on"}],
        }
        with (
            httpx.Client(timeout=10) as client,
            client.stream(
                "POST", f"{base}/v1/chat/completions", headers=headers, json=body
            ) as response,
        ):
            conversation_id = response.headers["x-convobase-conversation"]
            received = 0
            for line in response.iter_lines():
                received += line.startswith("data:")
                if received == 5:
                    break  # leave: the connection closes here
        stored: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listing = httpx.get(
                f"{base}/api/v1/conversations/{conversation_id}/messages", headers=headers
            )
            stored = listing.json().get("data", []) if listing.status_code == 200 else []
            if len(stored) == 2:
                break
            time.sleep(0.1)
        assert [m["role"] for m in stored] == ["user", "assistant"]
        answer = stored[1]
        assert answer["status"] == "incomplete"
        assert answer["content"].startswith("Echo: go on")
        assert len(answer["content"]) < len("Echo: go on" + " and so on" * 40)
        events = httpx.get(f"{base}/api/v1/usage/events", headers=headers).json()["data"]
        assert [e["status"] for e in events] == ["cancelled"]


async def test_the_users_own_provider_key_is_used(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.put(
        "/api/v1/provider-keys/openai",
        headers=account.headers,
        json={"api_key": "sk-users-own-key"},
    )
    assert response.status_code == 200, response.text
    await sdk.chat.completions.create(
        model="echo-1", messages=[{"role": "user", "content": "mine"}]
    )
    assert RECEIVED[-1]["headers"]["authorization"] == "Bearer sk-users-own-key"
    # Another provider still gets the server's key.
    await sdk.chat.completions.create(
        model="claude-3-5-haiku-20241022", messages=[{"role": "user", "content": "theirs"}]
    )
    assert RECEIVED[-1]["headers"]["x-api-key"] == "sk-ant-server"

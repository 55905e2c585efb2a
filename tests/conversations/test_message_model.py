"""A message's model has one shape: a top-level `model` is accepted on append (as
/import/local accepts it) and stored, and read back, as `metadata.model`."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


def url(conversation_id: str, message_id: str = "") -> str:
    return f"/api/v1/conversations/{conversation_id}/messages" + (
        f"/{message_id}" if message_id else ""
    )


async def test_top_level_model_is_metadata_model(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    chat = await new_conversation(client, user)
    answer = await append(client, user, chat["id"], "Hello!", role="assistant", model="llama3")
    assert answer["metadata"] == {"model": "llama3"} and "model" not in answer
    # Next to other metadata, or repeating metadata.model: one model, in metadata.
    both = await append(
        client,
        user,
        chat["id"],
        "Again",
        role="assistant",
        model="gpt-4o",
        metadata={"input_tokens": 3, "model": "gpt-4o"},
    )
    assert both["metadata"] == {"model": "gpt-4o", "input_tokens": 3}

    # Read back exactly like a message imported from local chats with a model.
    local = {
        "conversations": [
            {
                "id": "c1",
                "messages": [
                    {"id": "m1", "role": "assistant", "content": "Hello!", "model": "llama3"}
                ],
            }
        ]
    }
    imported = await client.post("/api/v1/import/local", headers=user.headers, json=local)
    assert imported.status_code == 200, imported.text
    listed = (await client.get("/api/v1/conversations", headers=user.headers)).json()["data"]
    other = next(c for c in listed if c["id"] != chat["id"])
    (from_import,) = (await client.get(url(other["id"]), headers=user.headers)).json()["data"]
    rows = (await client.get(url(chat["id"]), headers=user.headers)).json()["data"]
    read = next(m for m in rows if m["id"] == answer["id"])
    assert set(read) == set(from_import)
    assert read["metadata"]["model"] == from_import["metadata"]["model"] == "llama3"


async def test_conflicting_or_bad_models_are_422(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    chat = await new_conversation(client, user)
    for body in (
        {"role": "assistant", "content": "x", "model": "a", "metadata": {"model": "b"}},
        {"role": "assistant", "content": "x", "model": "m" * 201},
        {"role": "assistant", "content": "x", "model": 7},
        {"role": "assistant", "content": "x", "model": "m", "metadata": {"pad": "x" * 16_370}},
    ):
        response = await client.post(url(chat["id"]), headers=user.headers, json=body)
        assert_error(response, 422, "validation_error")


async def test_patching_the_model_keeps_the_rest_of_the_metadata(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    chat = await new_conversation(client, user)
    message = await append(
        client, user, chat["id"], "hi", role="assistant", metadata={"input_tokens": 4}
    )
    path = url(chat["id"], message["id"])
    changed = await client.patch(path, headers=user.headers, json={"model": "gpt-4o"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["metadata"] == {"input_tokens": 4, "model": "gpt-4o"}
    assert changed.json()["edit_count"] == 1
    removed = await client.patch(path, headers=user.headers, json={"model": None})
    assert removed.json()["metadata"] == {"input_tokens": 4}
    # With metadata, metadata replaces as before and the model goes into it.
    replaced = await client.patch(
        path, headers=user.headers, json={"model": "m2", "metadata": {"latency_ms": 5}}
    )
    assert replaced.json()["metadata"] == {"latency_ms": 5, "model": "m2"}

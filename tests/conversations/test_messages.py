"""Messages: append, parts, pages both ways, edits with history, deletion, branches, feedback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import Account, append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


def url(conversation: dict[str, Any], suffix: str = "") -> str:
    return f"/api/v1/conversations/{conversation['id']}/messages{suffix}"


async def listing(
    client: httpx.AsyncClient, user: Account, conversation: dict[str, Any], query: str = ""
) -> dict[str, Any]:
    response = await client.get(url(conversation, f"?{query}"), headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_linear_chain_parts_and_metadata(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    first = await append(client, user, conversation["id"], "What is 2+2?")
    assert first["parent_id"] is None and first["parts"] == [
        {"type": "text", "text": "What is 2+2?"}
    ]
    answer = await client.post(
        url(conversation),
        headers=user.headers,
        json={
            "role": "assistant",
            "parts": [
                {"type": "text", "text": "It is 4."},
                {"type": "code", "code": "print(2+2)", "language": "python", "filename": "a.py"},
                {
                    "type": "tool_call",
                    "id": "c1",
                    "name": "calculator",
                    "arguments": {"expr": "2+2"},
                },
                {"type": "tool_result", "tool_call_id": "c1", "content": "4"},
                {"type": "image", "url": "https://x.example/i.png", "alt": "a chart"},
                {"type": "file", "name": "notes.pdf"},
            ],
            "metadata": {
                "model": "gpt-x",
                "provider": "openai",
                "input_tokens": 12,
                "output_tokens": 5,
                "latency_ms": 420,
                "cost_usd": 0.0001,
                "finish_reason": "stop",
                "trace": {"id": "t1"},
            },
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["parent_id"] == first["id"]
    assert body["content"] == "It is 4.\nprint(2+2)\ncalculator\n4\na chart\nnotes.pdf"
    assert body["metadata"]["trace"] == {"id": "t1"} and body["metadata"]["cost_usd"] == 0.0001
    assert body["sibling_ids"] == [body["id"]] and body["sibling_index"] == 0
    conv = (
        await client.get(f"/api/v1/conversations/{conversation['id']}", headers=user.headers)
    ).json()
    assert conv["message_count"] == 2 and conv["current_leaf_id"] == body["id"]


async def test_pages_both_ways(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    ids = [(await append(client, user, conversation["id"], f"m{i}"))["id"] for i in range(7)]
    for order, expected in (("asc", ids), ("desc", list(reversed(ids)))):
        seen, cursor = [], None
        while True:
            query = f"limit=3&order={order}" + (f"&cursor={cursor}" if cursor else "")
            page = await listing(client, user, conversation, query)
            seen += [m["id"] for m in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == expected
    last_two = await listing(client, user, conversation, "order=desc&limit=2")
    assert [m["content"] for m in last_two["data"]] == ["m6", "m5"]


@pytest.mark.parametrize(
    "payload",
    [
        {"role": "wizard", "content": "x"},
        {"role": "user", "content": ""},
        {"role": "user", "content": "   "},
        {"role": "user", "content": "x" * 100_001},
        {"role": "user"},
        {"role": "user", "content": "x", "parts": [{"type": "text", "text": "y"}]},
        {"role": "user", "parts": []},
        {"role": "user", "parts": [{"type": "video", "url": "x"}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "text": "a" * 60_000},
                {"type": "text", "text": "b" * 60_000},
            ],
        },
        {"role": "user", "content": "x", "metadata": {"input_tokens": -1}},
        {"role": "user", "content": "x", "metadata": {"blob": "z" * 20_000}},
        {"role": "user", "content": "x", "status": "weird"},
        {"role": "user", "content": "x", "parent_id": "not-a-uuid"},
        {"role": "user", "parts": [{"type": "text", "text": "x"}] * 101},
    ],
)
async def test_bad_messages_store_nothing(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    assert_error(await client.post(url(conversation), headers=user.headers, json=payload), 422)
    assert (await listing(client, user, conversation))["data"] == []
    conv = (
        await client.get(f"/api/v1/conversations/{conversation['id']}", headers=user.headers)
    ).json()
    assert conv["message_count"] == 0


async def test_parent_from_another_conversation_is_rejected(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    a = await new_conversation(client, user)
    b = await new_conversation(client, user)
    in_a = await append(client, user, a["id"], "in a")
    response = await client.post(
        url(b), headers=user.headers, json={"role": "user", "content": "x", "parent_id": in_a["id"]}
    )
    assert_error(response, 422, "invalid_parent")
    assert (await listing(client, user, b))["data"] == []


async def test_edit_keeps_history_and_updates_search(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    message = await append(client, user, conversation["id"], "original wording")
    edited = await client.patch(
        url(conversation, f"/{message['id']}"),
        headers=user.headers,
        json={"content": "revised wording"},
    )
    assert edited.status_code == 200
    assert edited.json()["content"] == "revised wording" and edited.json()["edit_count"] == 1
    detail = (await client.get(url(conversation, f"/{message['id']}"), headers=user.headers)).json()
    assert [e["content"] for e in detail["edits"]] == ["original wording"]
    hits = (await client.get("/api/v1/search?q=revised", headers=user.headers)).json()["data"]
    assert [h["message_id"] for h in hits] == [message["id"]]
    assert (await client.get("/api/v1/search?q=original", headers=user.headers)).json()[
        "data"
    ] == []
    assert_error(
        await client.patch(
            url(conversation, f"/{message['id']}"), headers=user.headers, json={"content": ""}
        ),
        422,
    )
    assert_error(
        await client.patch(
            url(conversation, f"/{message['id']}"), headers=user.headers, json={"role": "system"}
        ),
        422,
    )


async def test_branches_paths_and_siblings(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    cid = conversation["id"]
    question = await append(client, user, cid, "Tell me a joke")
    answer1 = await append(client, user, cid, "Joke one", role="assistant")
    follow = await append(client, user, cid, "Another?")
    # Regenerate the answer: a sibling of answer1, which becomes the current leaf.
    answer2 = await append(
        client, user, cid, "Joke two", role="assistant", parent_id=question["id"]
    )
    assert answer2["sibling_ids"] == [answer1["id"], answer2["id"]]
    assert answer2["sibling_index"] == 1
    # Edit the first user turn as a new root branch.
    edited_root = await append(client, user, cid, "Tell me a fact", parent_id=None)

    everything = await listing(client, user, conversation)
    assert [m["id"] for m in everything["data"]] == [
        question["id"],
        answer1["id"],
        follow["id"],
        answer2["id"],
        edited_root["id"],
    ]
    assert everything["data"][0]["sibling_ids"] == [question["id"], edited_root["id"]]

    current = await listing(client, user, conversation, "leaf_id=current")
    assert [m["id"] for m in current["data"]] == [edited_root["id"]]
    branch = await listing(client, user, conversation, f"leaf_id={follow['id']}")
    assert [m["content"] for m in branch["data"]] == ["Tell me a joke", "Joke one", "Another?"]
    assert branch["data"][1]["sibling_ids"] == [answer1["id"], answer2["id"]]
    assert branch["data"][1]["sibling_index"] == 0
    other = await listing(client, user, conversation, f"leaf_id={answer2['id']}&order=desc")
    assert [m["content"] for m in other["data"]] == ["Joke two", "Tell me a joke"]
    # Paging along a path, from the leaf upwards.
    up = await listing(client, user, conversation, f"leaf_id={follow['id']}&order=desc&limit=2")
    assert [m["content"] for m in up["data"]] == ["Another?", "Joke one"]
    rest = await listing(
        client,
        user,
        conversation,
        f"leaf_id={follow['id']}&order=desc&limit=2&cursor={up['next_cursor']}",
    )
    assert [m["content"] for m in rest["data"]] == ["Tell me a joke"]
    assert rest["next_cursor"] is None
    # Appending without parent_id continues the current leaf.
    continued = await append(client, user, cid, "continue")
    assert continued["parent_id"] == edited_root["id"]
    for bad in ("leaf_id=nope", f"leaf_id={'0' * 8}-0000-0000-0000-{'0' * 12}"):
        assert_error(await client.get(url(conversation, f"?{bad}"), headers=user.headers), 422)


async def test_delete_reparents_and_recounts(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    cid = conversation["id"]
    a = await append(client, user, cid, "a")
    b = await append(client, user, cid, "b")
    c = await append(client, user, cid, "c")
    assert (
        await client.delete(url(conversation, f"/{b['id']}"), headers=user.headers)
    ).status_code == 204
    path = await listing(client, user, conversation, "leaf_id=current")
    assert [m["id"] for m in path["data"]] == [a["id"], c["id"]]
    assert path["data"][1]["parent_id"] == a["id"]
    await client.delete(url(conversation, f"/{c['id']}"), headers=user.headers)
    conv = (await client.get(f"/api/v1/conversations/{cid}", headers=user.headers)).json()
    assert conv["message_count"] == 1 and conv["current_leaf_id"] == a["id"]
    assert_error(await client.delete(url(conversation, f"/{c['id']}"), headers=user.headers), 404)
    assert (await client.get("/api/v1/search?q=c", headers=user.headers)).json()["data"] == []


async def test_feedback(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    message = await append(client, user, conversation["id"], "answer", role="assistant")
    feedback_url = url(conversation, f"/{message['id']}/feedback")
    first = await client.post(feedback_url, headers=user.headers, json={"rating": "up"})
    assert first.status_code == 201 and first.json()["rating"] == "up"
    again = await client.post(
        feedback_url, headers=user.headers, json={"rating": "down", "comment": "wrong"}
    )
    assert again.status_code == 200 and again.json()["comment"] == "wrong"
    detail = (await client.get(url(conversation, f"/{message['id']}"), headers=user.headers)).json()
    assert detail["feedback"]["rating"] == "down"
    for bad in ({"rating": "meh"}, {}, {"rating": "up", "comment": "c" * 5001}):
        assert_error(await client.post(feedback_url, headers=user.headers, json=bad), 422)


async def test_switching_branch_moves_the_current_leaf(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user)
    cid = conversation["id"]
    question = await append(client, user, cid, "Tell me a joke")
    first = await append(client, user, cid, "Joke one", role="assistant")
    deeper = await append(client, user, cid, "Haha, another")
    second = await append(client, user, cid, "Joke two", role="assistant", parent_id=question["id"])
    conv_url = f"/api/v1/conversations/{cid}"
    assert (await client.get(conv_url, headers=user.headers)).json()["current_leaf_id"] == second[
        "id"
    ]
    # Switch back to the first answer: its newest descendant becomes the current leaf.
    switched = await client.patch(
        conv_url, headers=user.headers, json={"current_leaf_id": first["id"]}
    )
    assert switched.json()["current_leaf_id"] == deeper["id"]
    path = await listing(client, user, conversation, "leaf_id=current")
    assert [m["content"] for m in path["data"]] == ["Tell me a joke", "Joke one", "Haha, another"]
    reply = await append(client, user, cid, "continuing branch one")
    assert reply["parent_id"] == deeper["id"]
    other = await new_conversation(client, user)
    foreign = await append(client, user, other["id"], "elsewhere")
    assert_error(
        await client.patch(conv_url, headers=user.headers, json={"current_leaf_id": foreign["id"]}),
        422,
        "invalid_leaf",
    )
    after = (await client.get(conv_url, headers=user.headers)).json()
    assert after["current_leaf_id"] == reply["id"]

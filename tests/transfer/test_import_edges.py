"""Edge cases of real-world exports: times at the calendar's ends, messages over the text
limit, text that is not valid UTF-8 or holds NUL, a zip with two conversations.json.

Each is a clear answer (imported, shortened and reported, or a 4xx), never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers import assert_error, signup
from tests.transfer import chatgpt_data
from tests.transfer.chatgpt_data import conversation, message, text
from tests.transfer.test_import_chatgpt import conversations, imported, messages, upload
from tests.transfer.test_import_refused import zipped

pytestmark = pytest.mark.usefixtures("app")

FAR = "9999-12-31T23:59:59-05:00"  # valid ISO-8601, but past the last UTC instant
EARLY = "0001-01-01T00:00:00+05:00"  # before the first


def one(conversation_id: str, title: str, content: dict[str, Any], **kw: Any) -> dict[str, Any]:
    node = message("m1", "user", content, at=chatgpt_data.T0)
    node.update(kw)
    return conversation(conversation_id, title, [("m1", None, node)], "m1")


async def test_times_without_a_utc_equivalent_are_ignored(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    chat = one("far", "Far", text("hello"), create_time=FAR, update_time=FAR)
    chat["create_time"], chat["update_time"] = EARLY, FAR
    report = await imported(client, user, json.dumps([chat]).encode())
    assert report["conversations"] == {"imported": 1, "skipped": 0}
    found = (await conversations(client, user))["Far"]
    assert found["message_count"] == 1


async def test_a_message_over_the_text_limit_is_shortened(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    long = one("long", "Long", text("a" * 150_000, "b" * 10))
    code = one("code", "Code", {"content_type": "code", "text": "c" * 200_000})
    report = await imported(client, user, json.dumps([long, code]).encode())
    # The conversations are kept; the long message is cut to what an append accepts.
    assert report["conversations"] == {"imported": 2, "skipped": 0}
    assert report["messages"]["truncated"] == 2
    found = await conversations(client, user)
    [first] = await messages(client, user, found["Long"]["id"])
    assert len(first["content"]) == 100_000 and set(first["content"]) == {"a"}
    assert first["metadata"]["truncated"] is True
    [second] = await messages(client, user, found["Code"]["id"])
    assert len(second["content"]) == 100_000


async def test_invalid_utf8_is_a_clear_error(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    # A lone surrogate escape that yajl cannot decode (was a 500: UnicodeDecodeError).
    data = (
        b'[{"id": "u", "title": "\\ud800", "mapping": {"a": {"parent": null, "message": '
        b'{"author": {"role": "user"}, "content": {"content_type": "text", '
        b'"parts": ["\\udc00"]}}}}}]'
    )
    assert_error(await upload(client, user, data), 400, "invalid_json")
    assert await conversations(client, user) == {}


async def test_nul_characters_are_imported_on_every_engine(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    chat = one("nul", "Nul\u0000title", text("before\u0000after"))
    report = await imported(client, user, json.dumps([chat]).encode())
    assert report["conversations"]["imported"] == 1, report
    [found] = (await conversations(client, user)).values()
    [first] = await messages(client, user, found["id"])
    assert "before" in first["content"] and "after" in first["content"]


async def test_two_conversations_json_in_a_zip_are_refused(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    a = json.dumps([one("a", "A", text("a"))]).encode()
    b = json.dumps([one("b", "B", text("b"))]).encode()
    for entries in (
        {"conversations.json": a, "old/conversations.json": b},
        {"one/conversations.json": a, "two/conversations.json": b},
    ):
        response = await upload(client, user, zipped(entries), "x.zip", "application/zip")
        assert_error(response, 422, "ambiguous_archive")
    assert await conversations(client, user) == {}


async def test_convobase_file_with_far_or_naive_times(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    chat = {
        "format": "convobase-conversation",
        "version": 1,
        "id": "c1",
        "title": "Naive",
        "created_at": "2024-01-01T00:00:00",  # naive: taken as UTC
        "messages": [
            {
                "id": "m1",
                "role": "user",
                "parts": [{"type": "text", "text": "hi"}],
                "content": "hi",
                "created_at": "2024-01-01T00:00:01",
            },
        ],
    }
    far = {**chat, "id": "c2", "title": "Far", "created_at": FAR}
    report = await imported(client, user, json.dumps([chat, far]).encode())
    assert report["conversations"] == {"imported": 1, "skipped": 1}, report
    assert report["skipped"][0]["reason"] == "invalid_conversation"
    assert set(await conversations(client, user)) == {"Naive"}

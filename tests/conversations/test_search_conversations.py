"""Conversation-level search: words spread over messages and the title, grouping, ranking,
pages, exclusions, owner scoping and shares; the console's search page uses it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import Account, append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")

URL = "/api/v1/search/conversations"


async def find(
    client: httpx.AsyncClient, user: Account, query: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(URL, params={"q": query, **params}, headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def found(client: httpx.AsyncClient, user: Account, query: str) -> list[dict[str, Any]]:
    return list((await find(client, user, query))["data"])


async def share_with(
    client: httpx.AsyncClient, owner: Account, conversation_id: str, recipient: Account
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/shares",
        headers=owner.headers,
        json={"kind": "user", "user_email": recipient.email},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_words_in_different_messages_find_the_conversation(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    spread = await new_conversation(client, user, title="Field trip")
    await append(client, user, spread["id"], "We saw a quetzalcoatlus skeleton today.")
    await append(client, user, spread["id"], "Be careful, it is fragile.", role="assistant")
    only_one = await new_conversation(client, user, title="Other")
    await append(client, user, only_one["id"], "Another quetzalcoatlus fact.")

    # No single message holds both words: message search finds nothing, this finds the one.
    message_hits = await client.get(
        "/api/v1/search", params={"q": "quetzalcoatlus careful "}, headers=user.headers
    )
    assert message_hits.json()["data"] == []
    (hit,) = await found(client, user, "quetzalcoatlus careful")
    assert hit["conversation_id"] == spread["id"]
    assert hit["title"] == "Field trip"
    assert hit["title_snippet"] is None  # the title did not match
    assert hit["shared"] is False
    snippets = " ".join(m["snippet"] for m in hit["messages"])
    assert "<mark>quetzalcoatlus</mark>" in snippets.lower()
    assert "<mark>careful</mark>" in snippets.lower()
    assert {m["conversation_id"] for m in hit["messages"]} == {spread["id"]}

    # A word of the title counts too, and the title comes back highlighted.
    (titled,) = await found(client, user, "field fragile")
    assert titled["conversation_id"] == spread["id"]
    assert titled["title_snippet"] == "<mark>Field</mark> trip"
    (fragile,) = titled["messages"]  # the one message with a word of the query
    assert "careful, it is <mark>fragile</mark>" in fragile["snippet"]

    # An excluded word anywhere in the conversation drops it.
    kept = await found(client, user, "quetzalcoatlus -fragile")
    assert [h["conversation_id"] for h in kept] == [only_one["id"]]
    assert len(await found(client, user, "quetzalcoatlus")) == 2


async def test_grouped_and_ranked(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    spread = await new_conversation(client, user, title="Spread")
    await append(client, user, spread["id"], "The harbour is busy in the morning.")
    for n in range(4):
        await append(client, user, spread["id"], f"Note {n} about the harbour.")
    await append(client, user, spread["id"], "The lighthouse keeper waved.")
    together = await new_conversation(client, user, title="Together")
    await append(client, user, together["id"], "The lighthouse stands over the harbour.")
    await append(client, user, together["id"], "Unrelated words only.")

    hits = await found(client, user, "harbour lighthouse")
    # One entry per conversation; words met in one message rank above words spread out.
    assert [h["conversation_id"] for h in hits] == [together["id"], spread["id"]]
    assert hits[0]["rank"] >= hits[1]["rank"]
    (best,) = hits[0]["messages"]
    assert "<mark>lighthouse</mark> stands over the <mark>harbour</mark>" in best["snippet"]
    # At most three snippets, best first; every one from this conversation.
    assert 1 <= len(hits[1]["messages"]) <= 3
    assert all(m["conversation_id"] == spread["id"] for m in hits[1]["messages"])
    ranks = [m["rank"] for m in hits[1]["messages"]]
    assert ranks == sorted(ranks, reverse=True)


async def test_pages(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    made = set()
    for n in range(5):
        conversation = await new_conversation(client, user, title=f"Voyage {n}")
        await append(client, user, conversation["id"], f"Day {n} of the sailing voyage.")
        made.add(conversation["id"])
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        page = await find(
            client, user, "sailing voyage", limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [h["conversation_id"] for h in page["data"]]
        cursor = page["next_cursor"]
    assert cursor is None
    assert len(seen) == 5 and set(seen) == made
    forged = await client.get(URL, params={"q": "voyage", "cursor": "abc"}, headers=user.headers)
    assert_error(forged, 400, "invalid_cursor")


async def test_foreign_conversations_never_shared_ones_do(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    reader = await signup(client)
    stranger = await signup(client)
    shared = await new_conversation(client, owner, title="Shared plans")
    await append(client, owner, shared["id"], "The zeppelin leaves at noon.")
    private = await new_conversation(client, owner, title="Private plans")
    await append(client, owner, private["id"], "The zeppelin is secret.")
    created = await share_with(client, owner, shared["id"], reader)

    assert await found(client, stranger, "zeppelin plans") == []
    (hit,) = await found(client, reader, "zeppelin plans")
    assert hit["conversation_id"] == shared["id"]
    assert hit["shared"] is True
    assert [h["shared"] for h in await found(client, owner, "zeppelin plans")] == [False, False]
    # Message search reaches the shared conversation too, and only that one of the owner's.
    messages = await client.get("/api/v1/search", params={"q": "zeppelin"}, headers=reader.headers)
    assert {h["conversation_id"] for h in messages.json()["data"]} == {shared["id"]}
    # The reader's own conversations come back beside the shared one.
    mine = await new_conversation(client, reader, title="My zeppelin plans")
    assert {h["conversation_id"] for h in await found(client, reader, "zeppelin plans")} == {
        shared["id"],
        mine["id"],
    }
    # Revoked: gone at once.
    revoked = await client.delete(f"/api/v1/shares/{created['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert [h["conversation_id"] for h in await found(client, reader, "zeppelin plans")] == [
        mine["id"]
    ]


@pytest.mark.parametrize("query", ["", "***", "-apple", "q" * 501])
async def test_bad_queries(client: httpx.AsyncClient, query: str) -> None:
    user = await signup(client)
    response = await client.get(URL, params={"q": query}, headers=user.headers)
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "query", ['apple" OR owner:*', "NEAR(apple pie", "apple AND", "a|b&!c -", "pie*", 'pie "ap']
)
async def test_query_syntax_never_reaches_the_engine(client: httpx.AsyncClient, query: str) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user, title="Apple pie")
    await append(client, user, conversation["id"], "apple pie and NEAR owner")
    stranger = await signup(client)
    await new_conversation(client, stranger, title="apple pie owner near")
    response = await client.get(URL, params={"q": query}, headers=user.headers)
    assert response.status_code == 200, response.text
    assert {h["conversation_id"] for h in response.json()["data"]} <= {conversation["id"]}


async def test_console_search_groups_by_conversation(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user, title="Trip to Lisbon")
    await append(client, user, conversation["id"], "Where do we eat **pastéis**?")
    answer = await append(
        client, user, conversation["id"], "Try the bakery near the tram.", role="assistant"
    )
    page = await client.get("/console/search", params={"q": "pastéis tram"}, headers=user.headers)
    assert page.status_code == 200, page.text
    html = page.text
    assert html.count('class="search-group"') == 1
    assert f'href="/console/c/{conversation["id"]}"' in html
    assert f'href="/console/c/{conversation["id"]}#m-{answer["id"]}"' in html
    assert "<mark>pastéis</mark>" in html and "**" not in html
    fragment = await client.get(
        "/console/search", params={"q": "lisb"}, headers={**user.headers, "HX-Request": "true"}
    )
    assert "Trip to <mark>Lisbon</mark>" in fragment.text

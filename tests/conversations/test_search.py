"""Full-text search: ranking, phrases, exclusions, prefixes, filters, pages, owner scoping."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from convobase.models import SearchTerm
from convobase.search.vocabulary import MAX_EXPANSION
from tests.helpers import Account, append, assert_error, new_conversation, signup

pytestmark = pytest.mark.usefixtures("app")


async def search(client: httpx.AsyncClient, user: Account, query: str) -> list[dict[str, str]]:
    response = await client.get("/api/v1/search", params={"q": query}, headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


@pytest.fixture
async def corpus(client: httpx.AsyncClient) -> Account:
    user = await signup(client)
    c1 = await new_conversation(client, user, title="Kubernetes deployment notes")
    c2 = await new_conversation(client, user, title="Cooking")
    await append(client, user, c1["id"], "How do I roll back a kubernetes deployment quickly?")
    await append(
        client, user, c1["id"], "Use kubectl rollout undo on the deployment.", role="assistant"
    )
    await append(client, user, c2["id"], "A recipe for apple pie with cinnamon")
    await append(
        client, user, c2["id"], "Apple crumble is easier than apple pie.", role="assistant"
    )
    await append(client, user, c2["id"], "<b>bold</b> & apples")
    return user


async def test_words_rank_and_highlight(client: httpx.AsyncClient, corpus: Account) -> None:
    hits = await search(client, corpus, "apple ")  # a finished word: whole words only
    assert len(hits) == 2
    assert "apple" in hits[0]["snippet"].lower()
    assert "<mark>" in hits[0]["snippet"]
    assert hits[0]["rank"] >= hits[1]["rank"]
    # The message that says "apple" twice ranks first.
    assert hits[0]["snippet"].count("<mark>") >= hits[1]["snippet"].count("<mark>")
    both = await search(client, corpus, "kubernetes deployment")
    assert {h["kind"] for h in both} == {"title", "message"}
    assert all(h["conversation_title"] == "Kubernetes deployment notes" for h in both)


async def test_phrases_exclusions_prefixes(client: httpx.AsyncClient, corpus: Account) -> None:
    assert len(await search(client, corpus, '"apple pie"')) == 2
    assert [h["role"] for h in await search(client, corpus, '"apple pie" -cinnamon')] == [
        "assistant"
    ]
    prefixed = await search(client, corpus, "kube*")
    assert {h["kind"] for h in prefixed} == {"title", "message"}
    assert await search(client, corpus, "kube ") == []  # a finished word is a whole word
    assert await search(client, corpus, "kube.") == []
    assert await search(client, corpus, "apple -apple") == []


async def test_snippets_are_escaped(client: httpx.AsyncClient, corpus: Account) -> None:
    (hit,) = await search(client, corpus, "apples")
    assert "<b>" not in hit["snippet"]  # escaped (SQLite) or dropped as markup (PostgreSQL)
    assert "&amp;" in hit["snippet"]
    assert "<mark>apples</mark>" in hit["snippet"]


async def test_filters_and_pages(client: httpx.AsyncClient, corpus: Account) -> None:
    response = await client.get(
        "/api/v1/search", params={"q": "pie", "role": "assistant"}, headers=corpus.headers
    )
    assert [h["role"] for h in response.json()["data"]] == ["assistant"]
    conversation_id = (await search(client, corpus, "kubectl"))[0]["conversation_id"]
    scoped = await client.get(
        "/api/v1/search",
        params={"q": "pie", "conversation_id": conversation_id},
        headers=corpus.headers,
    )
    assert scoped.json()["data"] == []
    future = await client.get(
        "/api/v1/search",
        params={"q": "pie", "start": "2999-01-01T00:00:00Z"},
        headers=corpus.headers,
    )
    assert future.json()["data"] == []
    past = await client.get(
        "/api/v1/search",
        params={"q": "pie", "start": "2000-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"},
        headers=corpus.headers,
    )
    assert len(past.json()["data"]) == 2
    first = (
        await client.get("/api/v1/search", params={"q": "pie", "limit": 1}, headers=corpus.headers)
    ).json()
    second = (
        await client.get(
            "/api/v1/search",
            params={"q": "pie", "limit": 1, "cursor": first["next_cursor"]},
            headers=corpus.headers,
        )
    ).json()
    assert first["data"][0]["message_id"] != second["data"][0]["message_id"]
    assert second["next_cursor"] is None


async def test_other_users_content_is_absent(client: httpx.AsyncClient, corpus: Account) -> None:
    stranger = await signup(client)
    assert await search(client, stranger, "apple") == []
    mine = await new_conversation(client, stranger, title="my apple notes")
    hits = await search(client, stranger, "apple")
    assert [h["conversation_id"] for h in hits] == [mine["id"]]


@pytest.mark.parametrize(
    "query",
    ["", "***", "-apple", '"" -', "!!! ???", "q" * 501, " ".join(f"w{i}" for i in range(20))],
)
async def test_bad_queries(client: httpx.AsyncClient, corpus: Account, query: str) -> None:
    response = await client.get("/api/v1/search", params={"q": query}, headers=corpus.headers)
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "query",
    [
        "apple' OR 1=1 --",
        'apple" OR owner:*',
        "NEAR(apple pie)",
        "apple AND",
        "owner : u1234",
        "{apple}",
        "apple:*",
        "a|b&!c",
    ],
)
async def test_query_syntax_never_reaches_the_engine(
    client: httpx.AsyncClient, corpus: Account, query: str
) -> None:
    response = await client.get("/api/v1/search", params={"q": query}, headers=corpus.headers)
    assert response.status_code == 200, response.text
    for hit in response.json()["data"]:  # whatever matched is still the caller's own
        assert hit["conversation_title"] in ("Cooking", "Kubernetes deployment notes")


async def test_deleting_a_conversation_empties_its_hits(
    client: httpx.AsyncClient, corpus: Account
) -> None:
    conversation_id = (await search(client, corpus, "kubectl"))[0]["conversation_id"]
    await client.delete(f"/api/v1/conversations/{conversation_id}", headers=corpus.headers)
    assert await search(client, corpus, "kubernetes") == []
    renamed = (await search(client, corpus, "cooking"))[0]["conversation_id"]
    await client.patch(
        f"/api/v1/conversations/{renamed}", headers=corpus.headers, json={"title": "Baking"}
    )
    assert await search(client, corpus, "cooking") == []
    assert [h["kind"] for h in await search(client, corpus, "baking")] == ["title"]


async def test_last_word_is_a_prefix(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    trip = await new_conversation(client, user, title="Trip to Lisbon")
    await append(client, user, trip["id"], "Lisboners love the tram.")  # stored first
    exact = await append(client, user, trip["id"], "Lisbon loves the tram.")
    await new_conversation(client, user, title="Zürich notes")

    # As typed, letter by letter: the last word matches as a prefix.
    assert {h["kind"] for h in await search(client, user, "lisb")} == {"title", "message"}
    assert [h["conversation_title"] for h in await search(client, user, "zür")] == ["Zürich notes"]
    assert len(await search(client, user, "trip to lis")) == 1  # only the last word
    assert await search(client, user, "lis trip") == []
    assert len(await search(client, user, '"trip to lis')) == 1  # a phrase still being typed
    # A finished word (a space or punctuation after it, a closed phrase) is a whole word.
    assert await search(client, user, "lisb ") == []
    assert await search(client, user, "lisb.") == []
    assert await search(client, user, '"lisb"') == []
    # An exact match ranks at least as well as a longer word with that prefix.
    messages = [h for h in await search(client, user, "tram lisbon") if h["kind"] == "message"]
    assert messages[0]["message_id"] == exact["id"]
    assert messages[0]["rank"] >= messages[1]["rank"]
    # An exclusion is never widened into a prefix.
    assert len(await search(client, user, "tram -lisbon")) == 1
    # The conversation search reads it the same way.
    response = await client.get(
        "/api/v1/search/conversations", params={"q": "tram lisb"}, headers=user.headers
    )
    assert [c["conversation_id"] for c in response.json()["data"]] == [trip["id"]]


async def test_snippets_are_plain_text(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    conversation = await new_conversation(client, user, title="Notes")
    markdown = (
        "# Deploying\n\nUse **bold** moves and `kubectl apply` with [the guide](https://example.com/x)."
        "\n\n```bash\nkubectl rollout status\n```\n\n- first *item*\n> quoted walrus"
    )
    message = await append(client, user, conversation["id"], markdown, role="assistant")
    for query, word in [("bold ", "bold"), ("kubectl ", "kubectl"), ("walrus ", "walrus")]:
        (hit,) = await search(client, user, query)
        assert f"<mark>{word}</mark>" in hit["snippet"]
        for syntax in ("**", "`", "](", "https://", "# ", "&gt;"):
            assert syntax not in hit["snippet"], (query, hit["snippet"])
    # The link's address is not text a reader sees; its words are.
    assert await search(client, user, "example ") == []
    assert len(await search(client, user, "guide ")) == 1
    # An edit is indexed the same way.
    edited = await client.patch(
        f"/api/v1/conversations/{conversation['id']}/messages/{message['id']}",
        headers=user.headers,
        json={"content": "A __tidy__ [walrus](https://example.com) answer"},
    )
    assert edited.status_code == 200, edited.text
    (hit,) = await search(client, user, "walrus ")
    assert "tidy <mark>walrus</mark> answer" in hit["snippet"]
    grouped = await client.get(
        "/api/v1/search/conversations", params={"q": "tidy walrus"}, headers=user.headers
    )
    (conversation_hit,) = grouped.json()["data"]
    (best,) = conversation_hit["messages"]
    assert "<mark>tidy</mark> <mark>walrus</mark> answer" in best["snippet"]


async def test_a_typed_prefix_reads_the_words_documents_hold(
    client: httpx.AsyncClient, app: Any
) -> None:
    """Appends, edits and titles record their words, so a prefix becomes those whole words;
    a prefix with more known words than the expansion takes is still answered."""
    user = await signup(client)
    chat = await new_conversation(client, user, title="Café Überblick")
    message = await append(client, user, chat["id"], "Quokkas visit Lisbon")
    edit = await client.patch(
        f"/api/v1/conversations/{chat['id']}/messages/{message['id']}",
        headers=user.headers,
        json={"content": "Quokkas visit Lisbon and Ljubljana"},
    )
    assert edit.status_code == 200, edit.text
    async with app.state.runtime.database.session() as db:
        terms = set((await db.execute(select(SearchTerm.term))).scalars())
    assert {"quokkas", "lisbon", "ljubljana", "café", "cafe", "überblick", "uberblick"} <= terms

    assert [h["kind"] for h in await search(client, user, "ljub")] == ["message"]
    assert [h["kind"] for h in await search(client, user, "caf")] == ["title"]
    many = " ".join(f"zq{i:02d}word" for i in range(MAX_EXPANSION + 1))
    await append(client, user, chat["id"], many)
    hits = await search(client, user, "zq")
    assert len(hits) == 1 and "<mark>zq00word</mark>" in hits[0]["snippet"]

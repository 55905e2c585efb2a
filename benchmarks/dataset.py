"""Bulk loader for the conversation benchmarks: users, conversations, messages, search docs.

Writes straight through SQLAlchemy Core in large batches (the API would take hours for a
million messages); rows are shaped exactly as the services write them, search documents
included, so queries over HTTP see what a real history would look like.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from convobase.db.base import new_id
from convobase.models import Conversation, Message, SearchDoc, SearchTerm, Share, User
from convobase.search import vocabulary
from convobase.search.index import owner_token

WORDS = (
    "deploy kubernetes python database index query cache latency budget invoice travel "
    "recipe garden model token prompt answer search branch merge commit review design "
    "contract lawyer patient symptom dosage schedule meeting summary report chart revenue "
    "forecast customer support ticket refund shipping order payment account password login "
    "session cookie server client request response error retry timeout queue worker thread "
    "memory storage bucket upload download image audio video document spreadsheet table"
).split()
BATCH = 5_000


@dataclass
class Loaded:
    users: list[tuple[uuid.UUID, str]]  # (id, email)
    seconds: float
    conversations: int
    messages: int


def sentence(rng: random.Random, low: int = 8, high: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


async def _insert(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(table), rows)


async def load(
    url: str,
    *,
    users: int,
    conversations_per_user: int,
    messages_per_conversation: int,
    password_hash: str,
    seed: int = 7,
    progress: bool = True,
) -> Loaded:
    rng = random.Random(seed)
    engine = create_async_engine(url)
    started = time.perf_counter()
    base = datetime.now(UTC) - timedelta(days=365)
    user_rows = [
        {
            "id": new_id(),
            "email": f"bench{i}@example.com",
            "name": f"Bench {i}",
            "role": "user",
            "disabled": False,
            "password_hash": password_hash,
            "created_at": base,
            "updated_at": base,
        }
        for i in range(users)
    ]
    for start in range(0, len(user_rows), BATCH):
        await _insert(engine, User.__table__, user_rows[start : start + BATCH])

    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    docs: list[dict[str, Any]] = []
    total_messages = 0
    total_conversations = 0
    known: set[str] = set()  # words already in search_terms

    async def flush() -> None:
        nonlocal conversations, messages, docs
        if conversations:
            await _insert(engine, Conversation.__table__, conversations)
        if messages:
            await _insert(engine, Message.__table__, messages)
        if docs:
            await _insert(engine, SearchDoc.__table__, docs)
            new_terms = vocabulary.words(d["body"] for d in docs) - known
            if new_terms:
                await _insert(engine, SearchTerm.__table__, [{"term": t} for t in new_terms])
                known.update(new_terms)
        conversations, messages, docs = [], [], []

    moment = base
    for user in user_rows:
        owner = owner_token(user["id"])
        for _ in range(conversations_per_user):
            moment += timedelta(seconds=rng.randint(1, 30))
            conversation_id = new_id()
            title = sentence(rng, 2, 6)
            parent = None
            segment = None  # one linear run: every message in its first one's segment
            for position in range(messages_per_conversation):
                moment += timedelta(milliseconds=rng.randint(1, 900))
                message_id = new_id()
                segment = segment or message_id
                content = sentence(rng)
                role = "user" if position % 2 == 0 else "assistant"
                messages.append(
                    {
                        "id": message_id,
                        "conversation_id": conversation_id,
                        "user_id": user["id"],
                        "parent_id": parent,
                        "depth": position,
                        "segment_id": segment,
                        "role": role,
                        "parts": [{"type": "text", "text": content}],
                        "content": content,
                        "metadata": {},
                        "status": "complete",
                        "edit_count": 0,
                        "created_at": moment,
                        "updated_at": moment,
                    }
                )
                docs.append(
                    {
                        "ref_id": message_id,
                        "kind": "message",
                        "user_id": user["id"],
                        "owner": owner,
                        "conversation_id": conversation_id,
                        "message_id": message_id,
                        "role": role,
                        "created_at": moment,
                        "body": content,
                    }
                )
                parent = message_id
            conversations.append(
                {
                    "id": conversation_id,
                    "user_id": user["id"],
                    "title": title,
                    "settings": {},
                    "tags": [],
                    "pinned": False,
                    "archived": False,
                    "message_count": messages_per_conversation,
                    "last_message_at": moment,
                    "last_activity_at": moment,
                    "current_leaf_id": parent,
                    "created_at": moment,
                    "updated_at": moment,
                }
            )
            docs.append(
                {
                    "ref_id": conversation_id,
                    "kind": "title",
                    "user_id": user["id"],
                    "owner": owner,
                    "conversation_id": conversation_id,
                    "message_id": None,
                    "role": None,
                    "created_at": moment,
                    "body": title,
                }
            )
            total_conversations += 1
            total_messages += messages_per_conversation
            if len(messages) >= BATCH:
                await flush()
                if progress and total_conversations % 10_000 == 0:
                    print(
                        f"  loaded {total_conversations:,} conversations, "
                        f"{total_messages:,} messages ({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
    await flush()
    await engine.dispose()
    return Loaded(
        [(u["id"], u["email"]) for u in user_rows],
        time.perf_counter() - started,
        total_conversations,
        total_messages,
    )


def _shared_sample(rng: random.Random, newest_first: Sequence[Any], count: int) -> list[Any]:
    """``count`` conversations at random, a tenth of them among the newest (the first page)."""
    recent = rng.sample(newest_first[:200], min(count // 10, 200, len(newest_first)))
    rest = newest_first[200:]
    return recent + rng.sample(rest, min(count - len(recent), len(rest)))


@dataclass
class HeavyUser:
    email: str
    conversations: int  # their own
    shared: int  # other users' conversations shared with them
    pinned: int
    archived: int
    seconds: float


async def load_heavy_user(
    url: str,
    *,
    conversations: int,
    shared: int,
    password_hash: str,
    seed: int = 13,
) -> HeavyUser:
    """One more user, owning ``conversations`` (1% pinned, 10% archived) and ``shared`` others'.

    Run after ``load``: their conversations' activity is spread over the same period as the
    loaded ones, and the shared ones are picked at random among those, so owned and shared
    conversations interleave on every page. Conversations only, with titles and no messages
    (the list reads no messages), inserted in large batches."""
    rng = random.Random(seed)
    engine = create_async_engine(url)
    started = time.perf_counter()
    async with engine.connect() as conn:
        first, last = (
            await conn.execute(
                select(
                    func.min(Conversation.last_activity_at), func.max(Conversation.last_activity_at)
                )
            )
        ).one()
        others = (
            await conn.execute(
                select(Conversation.id, Conversation.user_id).order_by(
                    Conversation.last_activity_at.desc()
                )
            )
        ).all()
    span = (last - first).total_seconds()
    user_id = new_id()
    email = "heavy@example.com"
    await _insert(
        engine,
        User.__table__,
        [
            {
                "id": user_id,
                "email": email,
                "name": "Heavy",
                "role": "user",
                "disabled": False,
                "password_hash": password_hash,
                "created_at": first,
                "updated_at": first,
            }
        ],
    )
    moments = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(conversations))
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "user_id": user_id,
            "title": sentence(rng, 2, 6),
            "settings": {},
            "tags": [],
            "pinned": rng.random() < 0.01,
            "archived": rng.random() < 0.10,
            "message_count": 0,
            "last_activity_at": moment,
            "created_at": moment,
            "updated_at": moment,
        }
        for moment in moments
    ]
    for start in range(0, len(rows), BATCH):
        await _insert(engine, Conversation.__table__, rows[start : start + BATCH])
    shares = [
        {
            "id": new_id(),
            "conversation_id": conversation_id,
            "user_id": owner_id,
            "kind": "user",
            "mode": "live",
            "permission": rng.choice(("read", "write")),
            "recipient_id": user_id,
            "created_at": last,
        }
        for conversation_id, owner_id in _shared_sample(rng, others, shared)
    ]
    for start in range(0, len(shares), BATCH):
        await _insert(engine, Share.__table__, shares[start : start + BATCH])
    await engine.dispose()
    return HeavyUser(
        email=email,
        conversations=len(rows),
        shared=len(shares),
        pinned=sum(r["pinned"] for r in rows),
        archived=sum(r["archived"] for r in rows),
        seconds=time.perf_counter() - started,
    )


if __name__ == "__main__":  # quick manual check: python benchmarks/dataset.py URL
    import sys

    result = asyncio.run(
        load(
            sys.argv[1],
            users=10,
            conversations_per_user=10,
            messages_per_conversation=10,
            password_hash="x",
        )
    )
    print(result.seconds, result.conversations, result.messages)

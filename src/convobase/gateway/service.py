"""The gateway's work around one chat completion: plan, meter, call, persist.

The request holds no database transaction while the upstream works (on SQLite that would be
the single write lock): the plan is read in a short read-only session, the quota reserved in
the store's own transaction, and the exchange stored afterwards in one transaction of its own:
new request messages, the answer (complete, or incomplete when the client left mid-stream) and
the usage event together, so nothing is ever half-stored. A failed call stores only its usage
event. This and the quota store are the deliberate exceptions to "the request's session
dependency is the only place that commits": for a stream, the response has started long before.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog

from convobase.backends.quotas import Amount, Reservation
from convobase.config import ProviderConfig
from convobase.conversations import repository as conversations
from convobase.conversations import service as conversation_service
from convobase.conversations.schemas import ConversationCreate
from convobase.db.base import new_id
from convobase.gateway import routing, transcript
from convobase.gateway.anthropic import AnthropicUpstream
from convobase.gateway.errors import GatewayError
from convobase.gateway.schemas import ChatRequest
from convobase.gateway.upstream import OpenAIUpstream, Outcome, Usage
from convobase.keys import service as keys
from convobase.messages import repository as messages
from convobase.messages import service as message_service
from convobase.messages.schemas import MessageCreate
from convobase.models import Message, ModelPrice, User
from convobase.preferences import service as preferences
from convobase.quotas import service as quotas
from convobase.runtime import Runtime
from convobase.usage import pricing
from convobase.usage import service as usage
from convobase.usage.schemas import UsageEventIn

log = structlog.get_logger("convobase.gateway")
ENDPOINT = "/v1/chat/completions"
Upstream = OpenAIUpstream | AnthropicUpstream


@dataclass
class Plan:
    user: User
    provider: ProviderConfig
    upstream: Upstream
    body: dict[str, Any]
    model: str
    conversation_id: uuid.UUID
    conversation_exists: bool
    title: str | None
    parent_id: uuid.UUID | None
    to_append: list[MessageCreate]
    # Ids chosen up front (UUIDv7, so in order): the answer's is announced in the headers.
    append_ids: list[uuid.UUID]
    answer_id: uuid.UUID
    stream: bool
    include_usage: bool
    # An admin's price for the model, read once: it prices the estimate and the answer.
    price_override: ModelPrice | None = None
    reservation: Reservation | None = None
    started: float = field(default_factory=time.perf_counter)


def _default_model(prefs: Any, domain: str | None, conversation_model: str | None) -> str | None:
    return conversation_model or prefs.default_model.get(domain or prefs.default_domain)


async def plan(
    runtime: Runtime, user: User, request: ChatRequest, header_conversation: uuid.UUID | None
) -> Plan:
    settings = runtime.settings
    requested = [transcript.to_create(m, i) for i, m in enumerate(request.messages)]
    conversation_id = request.conversation_id or header_conversation
    async with runtime.database.session(write=False) as db:
        prefs = await preferences.get_preferences(db, user.id)
        conversation = (
            await conversations.get(db, user.id, conversation_id)
            if conversation_id is not None
            else None
        )
        model = request.model or _default_model(
            prefs,
            conversation.domain if conversation else None,
            conversation.model if conversation else None,
        )
        if not model:
            raise GatewayError(400, "`model` is required", "missing_model")
        provider, upstream_model = routing.route(
            settings.providers, model, prefs.preferred_provider
        )
        stored: list[Message] = []
        if conversation is not None and conversation.current_leaf_id is not None:
            stored = await messages.path(db, conversation.id, conversation.current_leaf_id)
        matched, parent = transcript.new_messages(requested, stored)
        api_key = await _api_key(runtime, db, user.id, provider)
        body = request.upstream_fields()
        body["model"] = upstream_model
        chosen = prefs.model_fields_set
        if request.temperature is None and "temperature" in chosen:
            body["temperature"] = prefs.temperature
        no_cap = request.max_tokens is None and request.max_completion_tokens is None
        if no_cap and "max_tokens" in chosen:
            body["max_tokens"] = prefs.max_tokens
        has_system = any(m.role in ("system", "developer") for m in request.messages)
        if conversation is not None and conversation.system_prompt and not has_system:
            body["messages"] = [
                {"role": "system", "content": conversation.system_prompt},
                *body["messages"],
            ]
        estimate = _estimate_tokens(body)
        override = await db.get(ModelPrice, model)
        price = usage.price_with(override, model, provider.name, pricing.Tokens(estimate, 0))
    client = runtime.gateway_client()
    upstream: Upstream = (
        AnthropicUpstream(client, provider, api_key)
        if provider.kind == "anthropic"
        else OpenAIUpstream(client, provider, api_key)
    )
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    result = Plan(
        user=user,
        provider=provider,
        upstream=upstream,
        body=body,
        model=model,
        conversation_id=conversation.id if conversation else new_id(),
        conversation_exists=conversation is not None,
        title=transcript.title_of(requested),
        parent_id=parent.id if parent else None,
        to_append=requested[matched:],
        append_ids=[new_id() for _ in requested[matched:]],
        answer_id=new_id(),
        stream=request.stream,
        include_usage=include_usage,
        price_override=override,
    )
    # Reserve last: an invalid request must not hold allowance. 429 here means no upstream call.
    amount = Amount(requests=1, tokens=estimate, cost_usd=price.cost_usd or Decimal(0))
    result.reservation = await quotas.reserve(runtime, user.id, amount)
    return result


def _estimate_tokens(body: dict[str, Any]) -> int:
    """A cautious guess for the reservation: ~4 characters a token, plus the answer's cap."""
    characters = sum(len(str(m.get("content") or "")) for m in body["messages"])
    cap = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    return characters // 4 + 1 + int(cap)


async def _api_key(
    runtime: Runtime, db: Any, user_id: uuid.UUID, provider: ProviderConfig
) -> str | None:
    """The user's own key for this provider (from the vault) wins over the server's."""
    own = await keys.user_key(db, runtime.settings, user_id, provider.name)
    if own:
        return own
    return provider.api_key.get_secret_value() if provider.api_key else None


async def persist(
    runtime: Runtime, step: Plan, outcome: Outcome, status: str, error_code: str | None = None
) -> None:
    """Store the exchange and its usage event in one transaction, then settle the quota."""
    latency_ms = int((time.perf_counter() - step.started) * 1000)
    used = outcome.usage or Usage()
    prompt = used.prompt_tokens
    cached = min(used.cached_tokens, prompt)
    written = min(used.cache_write_tokens, prompt - cached)
    event_status = {"complete": "success", "incomplete": "cancelled"}.get(status, "error")
    stored_answer = False
    async with runtime.database.session() as db:
        # Priced once, for the answer's metadata and the usage event alike (with the price the
        # call started under: an admin's change applies from the next call).
        price = usage.price_with(
            step.price_override,
            step.model,
            step.provider.name,
            pricing.Tokens(prompt, used.completion_tokens, cached, written),
        )
        if status in ("complete", "incomplete"):
            try:
                stored_answer = await _store_messages(
                    db, step, outcome, status, latency_ms, price.cost_usd
                )
            except Exception:
                # The usage must be metered even if the transcript cannot be kept.
                log.exception("gateway_transcript_not_stored", model=step.model)
                await db.rollback()
                stored_answer, step.conversation_exists = False, False
        event = await usage.record(
            db,
            step.user,
            UsageEventIn(
                endpoint=ENDPOINT,
                provider=step.provider.name,
                model=step.model,
                input_tokens=prompt,
                output_tokens=used.completion_tokens,
                cached_tokens=cached,
                cache_write_tokens=written,
                latency_ms=latency_ms,
                status=event_status,
                conversation_id=step.conversation_id
                if stored_answer or step.conversation_exists
                else None,
                message_id=step.answer_id if stored_answer else None,
                metadata={"error": error_code} if error_code else {},
            ),
            price=price,
            references_checked=True,  # written just now, in this transaction
        )
        await db.commit()
    amount = Amount(
        requests=1,
        tokens=event.input_tokens + event.output_tokens,
        cost_usd=event.cost_usd or Decimal(0),
    )
    reservation_id = step.reservation.id if step.reservation else None
    await runtime.quotas.settle(step.user.id, reservation_id, amount, event.occurred_at)


async def _store_messages(
    db: Any, step: Plan, outcome: Outcome, status: str, latency_ms: int, cost: Decimal | None
) -> bool:
    used = outcome.usage or Usage()
    answer = transcript.answer_create(
        outcome,
        {
            "model": outcome.model or step.model,
            "provider": step.provider.name,
            "input_tokens": used.prompt_tokens,
            "output_tokens": used.completion_tokens,
            "latency_ms": latency_ms,
            "cost_usd": float(cost) if cost is not None else None,
            "finish_reason": outcome.finish_reason,
        },
        status,
    )
    if answer is None and not step.to_append:
        return False
    if not step.conversation_exists:
        await conversation_service.create(
            db,
            step.user,
            ConversationCreate(title=step.title, model=step.model),
            id=step.conversation_id,
        )
    # One chain: the request's new messages, then the answer, under the first one's parent.
    pending = list(zip(step.to_append, step.append_ids, strict=True))
    if answer is not None:
        pending.append((answer, step.answer_id))
    chain = [
        (
            MessageCreate.model_validate(
                {
                    **create.model_dump(exclude_none=True),
                    **({"parent_id": step.parent_id} if i == 0 else {}),
                }
            ),
            message_id,
        )
        for i, (create, message_id) in enumerate(pending)
    ]
    await message_service.append_chain(db, step.user, step.conversation_id, chain)
    return answer is not None


def ids_headers(step: Plan) -> dict[str, str]:
    return {
        "X-Convobase-Conversation": str(step.conversation_id),
        "X-Convobase-Message": str(step.answer_id),
    }

"""The console home: the conversation sidebar (keyset pages, infinite scroll), filters, search,
and starting a conversation. One conversation's page lives in ``conversation.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.auth.dependencies import RuntimeDep
from convobase.console.web import (
    FormViewer,
    PageViewer,
    Viewer,
    failing_back_to,
    is_fragment,
    optional,
    render,
    see_other,
    text,
)
from convobase.conversations import repository as conversations
from convobase.conversations import service as conversation_service
from convobase.conversations.schemas import ConversationCreate
from convobase.db.base import utcnow
from convobase.db.pagination import cursor_datetime, cursor_uuid, decode_cursor, page_of
from convobase.db.session import DbSession
from convobase.errors import ConvobaseError
from convobase.messages import service as messages
from convobase.messages.schemas import MessageCreate
from convobase.runtime import Runtime
from convobase.search import service as search_service
from convobase.search.query import MAX_QUERY_LENGTH

router = APIRouter(prefix="/console", include_in_schema=False)

SIDEBAR_PAGE = 30
SEARCH_PAGE = 20
Show = Literal["recent", "pinned", "archived"]


@dataclass(frozen=True, slots=True)
class Sidebar:
    rows: list[Any]
    next_url: str | None
    show: str
    tag: str | None


def split_tags(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


def _query(show: str, tag: str | None, cursor: str) -> str:
    params = {"show": show, "cursor": cursor, **({"tag": tag} if tag else {})}
    return "/console/conversations?" + urlencode(params)


async def load_sidebar(
    db: AsyncSession,
    runtime: Runtime,
    viewer: Viewer,
    show: str = "recent",
    tag: str | None = None,
    cursor: str | None = None,
) -> Sidebar:
    """One keyset page of the viewer's conversations, the same query as the API's list."""
    after = None
    if cursor:
        at, row_id = decode_cursor(runtime.secret, cursor, 2)
        after = (cursor_datetime(at), cursor_uuid(row_id))
    where = conversations.ConversationFilter(
        archived=show == "archived", pinned=True if show == "pinned" else None, tag=tag
    )
    listed = await conversations.page(
        db, viewer.user.id, limit=SIDEBAR_PAGE + 1, after=after, where=where, now=utcnow()
    )
    rows = [access.conversation for access in listed]  # the sidebar shows no permission
    rows, next_cursor = page_of(
        rows, SIDEBAR_PAGE, runtime.secret, lambda c: (c.last_activity_at.isoformat(), c.id)
    )
    next_url = _query(show, tag, next_cursor) if next_cursor else None
    return Sidebar(rows=rows, next_url=next_url, show=show, tag=tag)


ShowParam = Annotated[Show, Query()]
TagParam = Annotated[str | None, Query(max_length=64)]
CursorParam = Annotated[str | None, Query(max_length=512)]


@router.get("/")
async def home(
    request: Request,
    viewer: PageViewer,
    db: DbSession,
    runtime: RuntimeDep,
    show: ShowParam = "recent",
    tag: TagParam = None,
) -> HTMLResponse:
    sidebar = await load_sidebar(db, runtime, viewer, show, tag or None)
    return render(request, "home.html", viewer, sidebar=sidebar, nav="conversations")


@router.get("/conversations")
async def sidebar_page(
    request: Request,
    viewer: PageViewer,
    db: DbSession,
    runtime: RuntimeDep,
    show: ShowParam = "recent",
    tag: TagParam = None,
    cursor: CursorParam = None,
) -> HTMLResponse:
    """The next page of the sidebar, swapped in by htmx when its last row scrolls into view."""
    sidebar = await load_sidebar(db, runtime, viewer, show, tag or None, cursor)
    if is_fragment(request):
        return render(request, "_sidebar_rows.html", viewer, sidebar=sidebar)
    return render(request, "home.html", viewer, sidebar=sidebar, nav="conversations")


@router.post("/conversations")
async def create_conversation(request: Request, viewer: FormViewer, db: DbSession) -> Response:
    form = await request.form()
    first = text(form, "content")
    with failing_back_to("/console/"):
        data = ConversationCreate(
            title=optional(form, "title"), tags=split_tags(text(form, "tags"))
        )
        message = MessageCreate(role="user", content=first) if first else None
        conversation = await conversation_service.create(db, viewer.user, data)
        if message is not None:
            await messages.append(db, viewer.user, conversation.id, message)
    return see_other(request, f"/console/c/{conversation.id}", "Conversation created")


# Longer than the service's limit, so that the service's own message says what is wrong.
Q = Annotated[str, Query(max_length=MAX_QUERY_LENGTH * 4)]


@router.get("/search")
async def search(
    request: Request, viewer: PageViewer, db: DbSession, runtime: RuntimeDep, q: Q = ""
) -> HTMLResponse:
    """Conversations holding every word of ``q`` (in any message or the title), best first,
    each with its best-matching messages; snippets come escaped from the search service with
    only its own <mark> highlights as markup. A refused query shows its reason in the results
    (as a 200 fragment for the live search: htmx swaps in only 2xx answers)."""
    hits, error = [], None
    if q.strip():
        try:
            found = await search_service.search_conversations(
                db, viewer.user.id, q, limit=SEARCH_PAGE, after=None
            )
            hits = [hit for hit, _ in found]
        except ConvobaseError as exc:
            if exc.status_code >= 500:
                raise
            error = exc.message
    context: dict[str, Any] = {"hits": hits, "q": q, "error": error}
    if is_fragment(request):
        return render(request, "_search_results.html", viewer, **context)
    sidebar = await load_sidebar(db, runtime, viewer)
    return render(
        request,
        "search.html",
        viewer,
        status_code=400 if error else 200,
        sidebar=sidebar,
        nav="conversations",
        **context,
    )

"""HTTP layer for shares: the owner's API, the public JSON read and the public page."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader
from starlette.responses import StreamingResponse

from convobase.auth.dependencies import CurrentPrincipal, RuntimeDep
from convobase.console.markdown import MESSAGE_FILTERS
from convobase.db.pagination import PageCursor, PageLimit, id_from_cursor, page_of
from convobase.db.session import DbSession
from convobase.errors import NotFound
from convobase.files import download
from convobase.sharing import service
from convobase.sharing.schemas import PublicConversation, ShareCreate, ShareCreatedOut, SharePage

router = APIRouter(prefix="/api/v1", tags=["sharing"])
page_router = APIRouter(tags=["sharing"])

# Autoescaping on for every template: every user-written string (title, content, model) is
# escaped, so a message holding "<script>" shows as text. Messages render through the console's
# own part templates and safe Markdown filter, so a shared message looks as it does there.
_templates = Environment(
    loader=ChoiceLoader(
        [
            PackageLoader("convobase.sharing", "templates"),
            PackageLoader("convobase.console", "templates"),
        ]
    ),
    autoescape=True,
    auto_reload=False,
)
_templates.filters.update(MESSAGE_FILTERS)


@router.post(
    "/conversations/{conversation_id}/shares",
    status_code=status.HTTP_201_CREATED,
    response_model=ShareCreatedOut,
)
async def create_share(
    conversation_id: uuid.UUID,
    data: ShareCreate,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
) -> ShareCreatedOut:
    """Share your conversation by link (the token is shown only here) or with a named user."""
    share, token, email = await service.create(db, runtime, principal.user, conversation_id, data)
    url = None
    if token is not None:
        base = (runtime.settings.public_url or str(request.base_url)).rstrip("/")
        url = f"{base}/s/{token}"
    return ShareCreatedOut(**service.to_out(share, email).model_dump(), token=token, url=url)


@router.get("/conversations/{conversation_id}/shares", response_model=SharePage)
async def list_shares(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> SharePage:
    """Your shares of this conversation, newest first, revoked and expired ones included."""
    rows = await service.list_shares(
        db,
        principal.user,
        conversation_id,
        limit=limit + 1,
        before=id_from_cursor(runtime.secret, cursor),
    )
    rows, next_cursor = page_of(rows, limit, runtime.secret, lambda row: (row[0].id,))
    return SharePage(data=[service.to_out(s, e) for s, e in rows], next_cursor=next_cursor)


@router.delete("/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_share(share_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession) -> None:
    await service.revoke(db, principal.user, share_id)


@router.get("/shared/{token}", response_model=PublicConversation)
async def read_shared(token: str, db: DbSession, runtime: RuntimeDep) -> PublicConversation:
    """A link share's conversation, for anyone holding the token (no authentication)."""
    return await service.read_public(db, runtime, token)


_PRIVATE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",  # a revoked link must stop showing at once
}


def _page_headers(nonce: str | None) -> dict[str, str]:
    # No script at all; styles only from the page's own nonce'd block; images only from this
    # origin (the share's own file links; Markdown images are off, remote loads impossible).
    style = f"'nonce-{nonce}'" if nonce else "'none'"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style}; img-src 'self'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"
        ),
        **_PRIVATE_HEADERS,
        "X-Frame-Options": "DENY",
    }


@page_router.get("/s/{token}", response_class=HTMLResponse)
async def shared_page(token: str, db: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """The same conversation as a plain HTML page (no scripts; a strict CSP)."""
    try:
        link = await service.read_page(db, runtime, token)
    except NotFound:
        html = _templates.get_template("not_found.html").render()
        return HTMLResponse(html, status_code=404, headers=_page_headers(None))

    def file_url(file_id: object) -> str:
        # Scoped to this share (the ref is useless elsewhere); never the file's id.
        return f"/s/{token}/files/{service.file_ref(runtime.secret, link.share_id, file_id)}"

    nonce = secrets.token_urlsafe(16)
    html = _templates.get_template("shared.html").render(
        view=link.view, nonce=nonce, file_url=file_url
    )
    return HTMLResponse(html, headers=_page_headers(nonce))


@page_router.get("/s/{token}/files/{ref}", response_class=StreamingResponse)
async def shared_file(
    token: str,
    ref: Annotated[str, Path(max_length=64)],
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
) -> StreamingResponse:
    """A file one of the share's messages shows (Range supported); 404 for any other file,
    and once the link is revoked or expired."""
    file = await service.shared_file(db, runtime, token, ref)
    response = await download.respond(runtime.storage, file, request.headers.get("range"))
    response.headers.update(_PRIVATE_HEADERS)
    return response

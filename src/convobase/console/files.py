"""Files: the list (keyset pages), one file's versions, upload, delete. Downloads are the API's
own content route (the session cookie authenticates a GET)."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from convobase.auth.dependencies import Principal, RuntimeDep, get_principal_outside_transaction
from convobase.console.web import (
    FormViewer,
    LoginRequired,
    PageViewer,
    check_csrf,
    failing_back_to,
    render,
    see_other,
)
from convobase.db.pagination import id_from_cursor, page_of
from convobase.db.session import DbSession
from convobase.errors import Unauthorized
from convobase.files import receive
from convobase.files import service as files

router = APIRouter(prefix="/console/files", include_in_schema=False)

PAGE = 50


@router.get("")
async def files_page(
    request: Request,
    viewer: PageViewer,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> HTMLResponse:
    before = id_from_cursor(runtime.secret, cursor)
    rows = await files.list_files(
        db, viewer.user, conversation_id=None, before=before, limit=PAGE + 1
    )
    rows, next_cursor = page_of(rows, PAGE, runtime.secret, lambda f: (f.id,))
    older = f"/console/files?{urlencode({'cursor': next_cursor})}" if next_cursor else None
    return render(request, "files.html", viewer, files=rows, older=older, nav="files")


@router.get("/{file_id}")
async def file_page(
    file_id: uuid.UUID, request: Request, viewer: PageViewer, db: DbSession
) -> HTMLResponse:
    file = await files.get(db, viewer.user, file_id)
    versions = await files.versions(db, viewer.user, file_id)
    return render(request, "file.html", viewer, file=file, versions=versions, nav="files")


async def _uploader(request: Request, runtime: RuntimeDep) -> Principal:
    try:
        return await get_principal_outside_transaction(request, runtime)
    except Unauthorized as exc:
        raise LoginRequired("/console/files") from exc


@router.post("")
async def upload(
    request: Request,
    principal: Annotated[Principal, Depends(_uploader)],
    db: DbSession,
    runtime: RuntimeDep,
) -> Response:
    """The API's upload path: streamed to a temp file with no transaction open, checked,
    analysed and stored ahead, then one short transaction writes the rows."""
    back = "/console/files"
    with failing_back_to(back):
        upload = await receive.receive(request, files.policy(runtime.settings))
        try:
            check_csrf(runtime, principal, upload.fields.get("csrf_token"))
            upload.fields.pop("csrf_token", None)
            await files.check_target(runtime, principal.user, upload)
            analysis = await files.analyse(runtime, upload)
            stored = await files.store_ahead(runtime, upload)
            file = await files.create(db, runtime, principal.user, upload, analysis, stored=stored)
        finally:
            upload.discard()
    return see_other(request, back, f"Uploaded {file.filename} (version {file.version})")


@router.post("/{file_id}/delete")
async def delete(
    file_id: uuid.UUID, request: Request, viewer: FormViewer, db: DbSession, runtime: RuntimeDep
) -> Response:
    with failing_back_to("/console/files"):
        await files.delete(db, runtime, viewer.user, file_id)
    return see_other(request, "/console/files", "File deleted")

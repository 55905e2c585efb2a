from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from starlette.responses import StreamingResponse

from convobase.auth.dependencies import (
    CurrentPrincipal,
    PrincipalOutsideTransaction,
    RuntimeDep,
    resolve_principal,
)
from convobase.db.pagination import PageCursor, PageLimit, id_from_cursor, page_of
from convobase.db.session import DbSession
from convobase.files import download, receive, repository, service
from convobase.files.schemas import FileOut, FilePage, FileVersions
from convobase.models import File
from convobase.runtime import Runtime

router = APIRouter(prefix="/api/v1/files", tags=["files"])


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": receive.multipart_upload_schema(
                conversation_id={"type": "string", "format": "uuid"},
                message_id={"type": "string", "format": "uuid"},
            ),
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["filename", "data_base64"],
                    "properties": {
                        "filename": {"type": "string"},
                        "content_type": {"type": "string"},
                        "data_base64": {"type": "string", "format": "byte"},
                        "conversation_id": {"type": "string", "format": "uuid"},
                        "message_id": {"type": "string", "format": "uuid"},
                    },
                }
            },
        },
    }
}


async def _out(runtime: Runtime, request: Request, file: File) -> FileOut:
    # Links must work from outside: the configured public address wins over the one we saw.
    base = runtime.settings.public_url or str(request.base_url)
    url = await service.download_url(runtime, file, base)
    return FileOut.model_validate(file).model_copy(update={"download_url": url})


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FileOut,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a file (multipart field `file`, or JSON with `data_base64`)",
)
async def upload_file(
    request: Request, principal: PrincipalOutsideTransaction, db: DbSession, runtime: RuntimeDep
) -> FileOut:
    # The body streams to a temporary file before the database is touched (see
    # get_principal_outside_transaction): no transaction is open while bytes arrive.
    upload = await receive.receive(request, service.policy(runtime.settings))
    try:
        await service.check_target(runtime, principal.user, upload)
        analysis = await service.analyse(runtime, upload)
        stored = await service.store_ahead(runtime, upload)
        file = await service.create(db, runtime, principal.user, upload, analysis, stored=stored)
    finally:
        upload.discard()
    return await _out(runtime, request, file)


@router.get("", response_model=FilePage)
async def list_files(
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    conversation_id: uuid.UUID | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> FilePage:
    before = id_from_cursor(runtime.secret, cursor)
    rows = await service.list_files(
        db, principal.user, conversation_id=conversation_id, before=before, limit=limit + 1
    )
    rows, next_cursor = page_of(rows, limit, runtime.secret, lambda f: (f.id,))
    return FilePage(
        data=[await _out(runtime, request, row) for row in rows], next_cursor=next_cursor
    )


@router.get("/{file_id}", response_model=FileOut)
async def get_file(
    file_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
) -> FileOut:
    return await _out(runtime, request, await service.get(db, principal.user, file_id))


@router.get("/{file_id}/versions", response_model=FileVersions)
async def list_versions(
    file_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
) -> FileVersions:
    rows = await service.versions(db, principal.user, file_id)
    return FileVersions(data=[await _out(runtime, request, row) for row in rows])


@router.get(
    "/{file_id}/content",
    response_class=StreamingResponse,
    summary="The file's bytes (Range supported); a signed link needs no session",
)
async def file_content(
    file_id: uuid.UUID,
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    expires: Annotated[int | None, Query(ge=0, le=2**40)] = None,
    signature: Annotated[str | None, Query(max_length=128)] = None,
) -> StreamingResponse:
    file: File | None
    if expires is not None or signature is not None:
        service.check_signature(runtime, file_id, expires or 0, signature or "")
        file = await repository.get_unscoped(db, file_id)
        if file is None:
            raise download.ContentMissing("File not found", code="not_found")
    else:
        principal = await resolve_principal(request, db, runtime)
        file = await service.get(db, principal.user, file_id)
    return await download.respond(runtime.storage, file, request.headers.get("range"))


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_file(
    file_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> None:
    await service.delete(db, runtime, principal.user, file_id)

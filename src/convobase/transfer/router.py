"""Import and export over HTTP: `POST /api/v1/import`, `/import/local`, `GET /api/v1/export`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from convobase.auth.dependencies import MemberPrincipal, PrincipalOutsideTransaction, RuntimeDep
from convobase.db.base import utcnow
from convobase.db.session import DbSession
from convobase.errors import Forbidden
from convobase.files import receive
from convobase.transfer import export, service
from convobase.transfer.schemas import ImportReport, LocalImportIn

router = APIRouter(prefix="/api/v1", tags=["import and export"])

_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": receive.multipart_upload_schema()},
    }
}


@router.post(
    "/import",
    response_model=ImportReport,
    openapi_extra=_IMPORT_BODY,
    summary="Import ChatGPT's conversations.json or export zip, or a Convobase export",
)
async def import_file(
    request: Request, principal: PrincipalOutsideTransaction, db: DbSession, runtime: RuntimeDep
) -> ImportReport:
    if principal.user.is_guest:
        raise Forbidden("Sign up to import a history", code="guest_not_allowed")
    settings = runtime.settings
    # Streamed to a temporary file (413 as soon as it passes the limit) before the
    # transaction opens; the import then runs in the request's transaction: all or nothing,
    # but for the conversations the report lists as skipped.
    policy = receive.Policy(
        tmp_dir=settings.data_dir.resolve() / "tmp",
        max_bytes=settings.import_max_bytes,
        json_max_bytes=0,
        allowed_types=["*"],
    )
    upload = await receive.receive(request, policy)
    try:
        return await service.import_file(
            db, runtime.storage, settings, principal.user, upload.spool.path
        )
    finally:
        upload.discard()


@router.post(
    "/import/local",
    response_model=ImportReport,
    summary="Import chats a client kept locally before signing in (idempotent by its ids)",
)
async def import_local(
    body: LocalImportIn, principal: MemberPrincipal, db: DbSession, runtime: RuntimeDep
) -> ImportReport:
    return await service.import_local(db, runtime.settings, principal.user, body)


@router.get(
    "/export",
    summary="The caller's whole account as a zip, streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def export_account(
    principal: PrincipalOutsideTransaction, runtime: RuntimeDep
) -> StreamingResponse:
    name = f"convobase-export-{utcnow():%Y%m%d-%H%M%S}.zip"
    return StreamingResponse(
        export.export_zip(runtime.database, runtime.storage, principal.user.id),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )

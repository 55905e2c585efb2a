"""API keys (the full key shown once, on the page the create form redirects to: see
``reveal``) and provider keys (stored sealed by the vault; only the last four characters are
ever shown)."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from convobase.apikeys import service as api_keys
from convobase.apikeys.schemas import ApiKeyIn
from convobase.auth.dependencies import RuntimeDep
from convobase.console import reveal
from convobase.console.web import (
    FormError,
    FormViewer,
    PageViewer,
    Viewer,
    failing_back_to,
    form_id,
    render,
    secure_cookies,
    see_other,
    text,
)
from convobase.db.session import DbSession
from convobase.errors import Forbidden
from convobase.keys import service as provider_keys
from convobase.keys.schemas import PROVIDER_PATTERN, ProviderKeyIn

router = APIRouter(prefix="/console/settings", include_in_schema=False)


def _member(viewer: Viewer) -> None:
    """What the API refuses guests (API keys, the vault), the console refuses them too."""
    if viewer.is_guest:
        raise Forbidden("Guests cannot do this; sign up to unlock it", code="guest_not_allowed")


def _session_id(viewer: Viewer) -> uuid.UUID:
    session = viewer.principal.session
    assert session is not None  # console viewers come from browser sessions only
    return session.id


@router.get("/api-keys")
async def api_keys_page(
    request: Request, viewer: PageViewer, db: DbSession, runtime: RuntimeDep
) -> HTMLResponse:
    _member(viewer)
    rows = await api_keys.list_keys(db, viewer.user)
    handed = reveal.take(request, runtime.secret, _session_id(viewer))
    # Shown only while that key is still live (not revoked in another tab meanwhile).
    created = handed[1] if handed and any(row.id == handed[0] for row in rows) else None
    page = render(
        request,
        "api_keys.html",
        viewer,
        keys=rows,
        created=created,
        nav="settings",
        tab="api-keys",
    )
    reveal.forget(request, page, secure=secure_cookies(request))
    return page


@router.post("/api-keys")
async def create_api_key(
    request: Request, viewer: FormViewer, db: DbSession, runtime: RuntimeDep
) -> Response:
    """Post, then redirect (a reload cannot create a second key); the new key travels to
    that one page sealed in a short-lived cookie, never in the URL."""
    _member(viewer)
    back = "/console/settings/api-keys"
    with failing_back_to(back):
        data = ApiKeyIn(name=text(await request.form(), "name"))
        row, key = await api_keys.create(db, runtime.settings, viewer.user, data)
    answer = see_other(request, back, f"API key “{row.name}” created")
    reveal.hand_over(
        answer,
        runtime.secret,
        _session_id(viewer),
        row.id,
        key,
        secure=secure_cookies(request),
    )
    return answer


@router.post("/api-keys/revoke")
async def revoke_api_key(request: Request, viewer: FormViewer, db: DbSession) -> Response:
    _member(viewer)
    back = "/console/settings/api-keys"
    key_id = form_id(await request.form(), "key_id", back, "API key")
    with failing_back_to(back):
        await api_keys.revoke(db, viewer.user, key_id)
    return see_other(request, back, "API key revoked")


@router.get("/provider-keys")
async def provider_keys_page(request: Request, viewer: PageViewer, db: DbSession) -> HTMLResponse:
    _member(viewer)
    rows = await provider_keys.list_keys(db, viewer.user.id)
    return render(
        request, "provider_keys.html", viewer, keys=rows, nav="settings", tab="provider-keys"
    )


def _provider(value: str, back: str) -> str:
    if not re.fullmatch(PROVIDER_PATTERN, value):
        raise FormError(back, "Provider names are lower-case letters, digits, '.', '_' or '-'")
    return value


@router.post("/provider-keys")
async def set_provider_key(
    request: Request, viewer: FormViewer, db: DbSession, runtime: RuntimeDep
) -> Response:
    _member(viewer)
    back = "/console/settings/provider-keys"
    form = await request.form()
    provider = _provider(text(form, "provider"), back)
    raw = form.get("api_key")
    with failing_back_to(back):
        data = ProviderKeyIn.model_validate({"api_key": raw if isinstance(raw, str) else ""})
        await provider_keys.put(
            db, runtime.settings, viewer.user.id, provider, data.api_key.get_secret_value()
        )
    return see_other(request, back, f"Key for {provider} saved")


@router.post("/provider-keys/delete")
async def delete_provider_key(request: Request, viewer: FormViewer, db: DbSession) -> Response:
    _member(viewer)
    back = "/console/settings/provider-keys"
    provider = _provider(text(await request.form(), "provider"), back)
    with failing_back_to(back):
        await provider_keys.delete(db, viewer.user.id, provider)
    return see_other(request, back, f"Key for {provider} deleted")

"""Settings: the preferences form and presets, and the sessions and devices signed in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from convobase.auth import service as auth
from convobase.auth.dependencies import RuntimeDep
from convobase.auth.router import clear_session_cookies
from convobase.console.web import (
    FormError,
    FormViewer,
    PageViewer,
    failing_back_to,
    form_id,
    render,
    see_other,
    text,
)
from convobase.db.session import DbSession
from convobase.preferences import service as preferences
from convobase.preferences.presets import PRESETS

router = APIRouter(prefix="/console/settings", include_in_schema=False)

THEMES = ("system", "light", "dark")
_INTEGERS = ("font_size", "max_tokens")
_TEXTS = ("language", "locale", "timezone", "default_domain")
_FLAGS = ("streaming", "compact_mode")


def _patch(form: Any, back: str) -> dict[str, Any]:
    """The form as a merge patch with JSON types (the preferences schema is strict)."""
    patch: dict[str, Any] = {name: text(form, name) for name in _TEXTS if text(form, name)}
    patch["theme"] = text(form, "theme") or "system"
    try:
        for name in _INTEGERS:
            if text(form, name):
                patch[name] = int(text(form, name))
        if text(form, "temperature"):
            patch["temperature"] = float(text(form, "temperature"))
    except ValueError as exc:
        raise FormError(back, "Numbers only in the number fields") from exc
    for name in _FLAGS:
        patch[name] = form.get(name) == "on"
    return patch


@router.get("")
async def preferences_page(request: Request, viewer: PageViewer, db: DbSession) -> HTMLResponse:
    snapshot = await preferences.snapshot(db, viewer.user.id)
    return render(
        request,
        "settings.html",
        viewer,
        prefs=snapshot.preferences,
        updated_at=snapshot.updated_at,
        presets=list(PRESETS.values()),
        themes=THEMES,
        nav="settings",
        tab="preferences",
    )


@router.post("")
async def save_preferences(request: Request, viewer: FormViewer, db: DbSession) -> Response:
    back = "/console/settings"
    patch = _patch(await request.form(), back)
    with failing_back_to(back):
        await preferences.update(db, viewer.user.id, patch)
    return see_other(request, back, "Preferences saved")


@router.post("/presets")
async def apply_preset(request: Request, viewer: FormViewer, db: DbSession) -> Response:
    back = "/console/settings"
    name = text(await request.form(), "preset")
    with failing_back_to(back):
        await preferences.apply_preset(db, viewer.user.id, name)
    return see_other(request, back, f"Preset “{name}” applied")


@router.post("/reset")
async def reset_preferences(request: Request, viewer: FormViewer, db: DbSession) -> Response:
    await preferences.reset(db, viewer.user.id)
    return see_other(request, "/console/settings", "Preferences reset to the defaults")


@router.get("/sessions")
async def sessions_page(
    request: Request, viewer: PageViewer, db: DbSession, runtime: RuntimeDep
) -> HTMLResponse:
    records = await auth.list_sessions(db, runtime, viewer.principal)
    current = viewer.principal.session.id if viewer.principal.session else None
    return render(
        request,
        "sessions.html",
        viewer,
        sessions=sorted(records, key=lambda r: r.last_seen_at, reverse=True),
        current=current,
        nav="settings",
        tab="sessions",
    )


@router.post("/sessions/revoke")
async def revoke_session(
    request: Request, viewer: FormViewer, db: DbSession, runtime: RuntimeDep
) -> Response:
    back = "/console/settings/sessions"
    session_id = form_id(await request.form(), "session_id", back, "Session")
    with failing_back_to(back):
        await auth.revoke_session(db, runtime, viewer.principal, session_id)
    current = viewer.principal.session
    if current is not None and current.id == session_id:  # signed this browser out
        response = see_other(request, "/console/login", "Signed out")
        clear_session_cookies(response, runtime)
        return response
    return see_other(request, back, "Session revoked")

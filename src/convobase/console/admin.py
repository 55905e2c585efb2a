"""Admin pages: the system usage dashboard (with top users) and the users list, where an
admin changes a role, disables or enables an account and sets its quota."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from convobase.auth.dependencies import RuntimeDep
from convobase.console.usage import Days, dashboard
from convobase.console.web import (
    FormError,
    FormViewer,
    PageViewer,
    Viewer,
    failing_back_to,
    render,
    see_other,
    text,
)
from convobase.db.pagination import id_from_cursor, page_of
from convobase.db.session import DbSession
from convobase.errors import Forbidden
from convobase.quotas import service as quotas
from convobase.quotas.schemas import QuotaIn
from convobase.usage.service import DEFAULT_WINDOW_DAYS
from convobase.users import repository as users
from convobase.users import service as user_service
from convobase.users.schemas import AdminUserUpdateIn

router = APIRouter(prefix="/console/admin", include_in_schema=False)

PAGE = 50


def _admin(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise Forbidden("Administrator role required", code="admin_required")


@router.get("")
async def system_usage(
    request: Request,
    viewer: PageViewer,
    db: DbSession,
    runtime: RuntimeDep,
    days: Days = DEFAULT_WINDOW_DAYS,
) -> HTMLResponse:
    _admin(viewer)
    data = await dashboard(db, runtime, None, days, top=10)
    return render(request, "admin_usage.html", viewer, nav="admin", tab="usage", **data)


@router.get("/users")
async def users_page(
    request: Request,
    viewer: PageViewer,
    db: DbSession,
    runtime: RuntimeDep,
    email: Annotated[str | None, Query(max_length=320)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> HTMLResponse:
    _admin(viewer)
    where = users.UserFilter(email_prefix=email.lower() if email else None)
    rows = await users.page(
        db, limit=PAGE + 1, before_id=id_from_cursor(runtime.secret, cursor), where=where
    )
    rows, next_cursor = page_of(rows, PAGE, runtime.secret, lambda u: (u.id,))
    statuses = {u.id: await quotas.status(db, runtime, u.id) for u in rows}
    older = None
    if next_cursor:
        older = "/console/admin/users?" + urlencode({"cursor": next_cursor, "email": email or ""})
    return render(
        request,
        "admin_users.html",
        viewer,
        users=rows,
        quotas=statuses,
        email=email or "",
        older=older,
        nav="admin",
        tab="users",
    )


def _quota(form: Any, back: str) -> QuotaIn:
    def number(name: str) -> Decimal | None:
        raw = text(form, name)
        if not raw:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation as exc:
            raise FormError(back, f"{name.replace('_', ' ')} must be a number") from exc

    requests, tokens = number("requests_per_day"), number("tokens_per_month")
    with failing_back_to(back):
        return QuotaIn(
            requests_per_day=int(requests) if requests is not None else None,
            tokens_per_month=int(tokens) if tokens is not None else None,
            cost_per_month_usd=number("cost_per_month_usd"),
            unlimited=form.get("unlimited") == "on",
        )


@router.post("/users/{user_id}")
async def update_user(
    user_id: uuid.UUID, request: Request, viewer: FormViewer, db: DbSession, runtime: RuntimeDep
) -> Response:
    """One form per user row; ``action`` says which of its buttons was pressed."""
    _admin(viewer)
    back = "/console/admin/users"
    form = await request.form()
    action = text(form, "action")
    changes: dict[str, Any] = {}
    if action == "role":
        changes["role"] = text(form, "role")
    elif action in ("disable", "enable"):
        changes["disabled"] = action == "disable"
    elif action == "quota":
        changes["quota"] = _quota(form, back)
    else:
        raise FormError(back, "Unknown action")
    with failing_back_to(back):
        data = AdminUserUpdateIn.model_validate(changes)
        user = await user_service.admin_update(db, runtime, viewer.user, user_id, data)
    done = {
        "role": "Role changed",
        "disable": "Disabled",
        "enable": "Enabled",
        "quota": "Quota set",
    }
    return see_other(request, back, f"{done[action]}: {user.email}")

"""HTTP layer for /api/v1/preferences: the document, single values by dotted path, presets."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import ValidationError

from convobase.auth.dependencies import CurrentPrincipal
from convobase.db.session import DbSession
from convobase.errors import BadRequest, ConvobaseError, PayloadTooLarge, ValidationFailed
from convobase.preferences import service
from convobase.preferences.presets import PRESETS
from convobase.preferences.schemas import (
    MAX_BODY_BYTES,
    MAX_PATH_LENGTH,
    PreferencesOut,
    PreferenceValueIn,
    PreferenceValueOut,
    PresetListOut,
    PresetOut,
)

router = APIRouter(prefix="/api/v1/preferences", tags=["preferences"])

MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"
# Deeper than any path of the schema: refused before merging (no recursion on hostile input).
_MAX_DEPTH = 8


class UnsupportedMediaType(ConvobaseError):
    status_code = 415
    code = "unsupported_media_type"
    message = "Unsupported content type"


def _invalid(msg: str, type_: str) -> ValidationFailed:
    errors = [{"loc": ["body"], "msg": msg, "type": type_}]
    return ValidationFailed("Invalid request", details={"errors": errors})


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()  # only objects and arrays are pushed
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                if depth + 1 > _MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def _json_object(request: Request, accepted: tuple[str, ...]) -> dict[str, Any]:
    """The body as a JSON object, read here so the media type and the size are ours to check.

    Runs before the principal is resolved, so no transaction (on SQLite, the write lock) is
    open while the body arrives.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in accepted:
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(accepted)}", details={"accepted": list(accepted)}
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        errors = [
            {"loc": ["body", str(position)], "msg": "JSON decode error", "type": "json_invalid"}
        ]
        raise BadRequest(
            "Request body is not valid JSON", code="invalid_json", details={"errors": errors}
        ) from exc
    if not isinstance(value, dict):
        raise _invalid("Input should be a JSON object", "dict_type")
    if _too_deep(value):
        raise _invalid(f"Nested deeper than {_MAX_DEPTH} levels", "too_deep")
    return value


async def merge_patch_body(request: Request) -> dict[str, Any]:
    return await _json_object(request, (MERGE_PATCH, JSON))


async def value_body(request: Request) -> PreferenceValueIn:
    data = await _json_object(request, (JSON,))
    try:
        return PreferenceValueIn.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed("Invalid request", details={"errors": errors}) from exc


MergePatch = Annotated[dict[str, Any], Depends(merge_patch_body)]
ValueBody = Annotated[PreferenceValueIn, Depends(value_body)]
PreferencePath = Annotated[
    str, Path(max_length=MAX_PATH_LENGTH, description="Dotted, e.g. notifications.email")
]
PresetName = Annotated[str, Path(max_length=64)]


def _body_doc(schema: dict[str, Any], *media_types: str) -> dict[str, Any]:
    content = {media_type: {"schema": schema} for media_type in media_types}
    return {"requestBody": {"required": True, "content": content}}


_PATCH_BODY = _body_doc(
    {
        "type": "object",
        "description": "A merge patch of what GET answers, "
        '`{"preferences": {...}, "version"?: n}` (`updated_at` is ignored; a `version` must '
        "be the current one, else 409), or of the bare preferences document. "
        "null resets a key.",
    },
    MERGE_PATCH,
    JSON,
)
_PUT_BODY = _body_doc({"type": "object", "required": ["value"], "properties": {"value": {}}}, JSON)


def _out(snapshot: service.Snapshot) -> PreferencesOut:
    return PreferencesOut(
        preferences=snapshot.preferences, updated_at=snapshot.updated_at, version=snapshot.version
    )


@router.get("", response_model=PreferencesOut)
async def get_preferences(principal: CurrentPrincipal, db: DbSession) -> PreferencesOut:
    """Your preferences: every key, defaults where you chose nothing."""
    return _out(await service.snapshot(db, principal.user.id))


# The body parameter comes first: it is read before the principal opens a transaction.
@router.patch("", response_model=PreferencesOut, openapi_extra=_PATCH_BODY)
async def patch_preferences(
    patch: MergePatch, principal: CurrentPrincipal, db: DbSession
) -> PreferencesOut:
    """JSON merge patch (RFC 7386) of the resource GET answers or of the bare preferences
    document: objects merge, null resets a key, arrays replace."""
    return _out(await service.patch_resource(db, principal.user.id, patch))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def reset_preferences(principal: CurrentPrincipal, db: DbSession) -> None:
    """Back to the defaults."""
    await service.reset(db, principal.user.id)


@router.get("/presets", response_model=PresetListOut)
async def list_presets(principal: CurrentPrincipal) -> PresetListOut:
    return PresetListOut(
        data=[
            PresetOut(name=p.name, description=p.description, values=p.values)
            for p in PRESETS.values()
        ]
    )


@router.post("/presets/{name}/apply", response_model=PreferencesOut)
async def apply_preset(
    name: PresetName, principal: CurrentPrincipal, db: DbSession
) -> PreferencesOut:
    """Merge the preset's values into your preferences."""
    return _out(await service.apply_preset(db, principal.user.id, name))


@router.get("/{path}", response_model=PreferenceValueOut)
async def get_preference(
    path: PreferencePath, principal: CurrentPrincipal, db: DbSession
) -> PreferenceValueOut:
    value, snapshot = await service.get_value(db, principal.user.id, path)
    return PreferenceValueOut(path=path, value=value, updated_at=snapshot.updated_at)


@router.put("/{path}", response_model=PreferenceValueOut, openapi_extra=_PUT_BODY)
async def set_preference(
    body: ValueBody, path: PreferencePath, principal: CurrentPrincipal, db: DbSession
) -> PreferenceValueOut:
    """Replace one value; `{"value": null}` resets it to its default."""
    snapshot = await service.set_value(db, principal.user.id, path, body.value)
    value = service.value_at(snapshot.preferences, service.resolve(path))
    return PreferenceValueOut(path=path, value=value, updated_at=snapshot.updated_at)

"""Rules on preferences: merge patches, dotted paths, presets, one validated document.

The stored row holds only the user's choices (canonical JSON, as validated); reading validates
them over the defaults. Every change locks the row, applies to the latest choices, validates
the whole result and stores it, or stores nothing.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args, get_origin

import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.db.base import utcnow
from convobase.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from convobase.preferences import repository
from convobase.preferences.presets import PRESETS
from convobase.preferences.schemas import MAX_DOCUMENT_BYTES, Preferences

log = structlog.get_logger("convobase.preferences")

Choices = dict[str, Any]
Locate = Callable[[tuple[str | int, ...]], list[str]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    preferences: Preferences
    updated_at: datetime | None
    version: int


# --- reading -------------------------------------------------------------------------------


async def get_preferences(db: AsyncSession, user_id: uuid.UUID) -> Preferences:
    """The user's preferences, typed: their choices over the defaults (for other features)."""
    return (await snapshot(db, user_id)).preferences


async def snapshot(db: AsyncSession, user_id: uuid.UUID) -> Snapshot:
    row = await repository.get(db, user_id)
    if row is None:
        return Snapshot(Preferences(), None, 0)
    _, document = _sanitised(row.data, user_id)
    return Snapshot(document, row.updated_at, row.version)


async def get_value(db: AsyncSession, user_id: uuid.UUID, path: str) -> tuple[Any, Snapshot]:
    keys = resolve(path)
    current = await snapshot(db, user_id)
    return value_at(current.preferences, keys), current


# --- changing ------------------------------------------------------------------------------


async def update(db: AsyncSession, user_id: uuid.UUID, patch: Choices) -> Snapshot:
    """Apply a JSON merge patch (RFC 7386): null removes a choice (back to the default),
    objects merge recursively, anything else (arrays included) replaces."""
    return await _change(db, user_id, lambda current: merge_patch(current, patch), _in_body)


# The members of the resource GET answers (PreferencesOut). No preference has these names, so
# a patch naming any of them is a patch of the resource, not of the bare document.
RESOURCE_MEMBERS = frozenset({"preferences", "updated_at", "version"})


async def patch_resource(db: AsyncSession, user_id: uuid.UUID, patch: Choices) -> Snapshot:
    """PATCH /preferences: a merge patch of the document GET answers,
    ``{"preferences": {...}, "updated_at": ..., "version": ...}``, or, as before, of the bare
    preferences document. In the first form ``updated_at`` is read-only and ignored, and a
    ``version`` must be the current one (409 ``version_conflict``): a client that sends back
    what it read, changed, cannot overwrite a change it has not seen."""
    if not RESOURCE_MEMBERS.intersection(patch):
        return await update(db, user_id, patch)
    errors = [
        {
            "loc": ["body", key],
            "msg": "not a member of the preferences resource (preferences go under "
            "'preferences', or send the bare preferences document)",
            "type": "extra_forbidden",
        }
        for key in patch
        if key not in RESOURCE_MEMBERS
    ]
    document = patch.get("preferences", {})
    if document is not None and not isinstance(document, dict):
        message = "Input should be an object"
        errors.append({"loc": ["body", "preferences"], "msg": message, "type": "dict_type"})
    version = patch.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        errors.append(
            {"loc": ["body", "version"], "msg": "Input should be an integer", "type": "int_type"}
        )
    if errors:
        raise ValidationFailed("Invalid preferences", details={"errors": errors})

    def change(current: Choices) -> Choices:
        # {"preferences": null} removes every choice, as RFC 7386 removes the member.
        return {} if document is None else merge_patch(current, document)

    return await _change(
        db,
        user_id,
        change,
        lambda loc: ["body", "preferences", *map(str, loc)],
        expected_version=version,
    )


async def set_value(db: AsyncSession, user_id: uuid.UUID, path: str, value: Any) -> Snapshot:
    """Replace the value at a dotted path; null resets it (and everything under it)."""
    keys = resolve(path)

    def change(current: Choices) -> Choices:
        result: Choices = merge_patch(_without(current, keys), _nested(keys, value))
        return result

    def locate(loc: tuple[str | int, ...]) -> list[str]:
        rest = loc[len(keys) :] if loc[: len(keys)] == keys else ()
        return ["body", "value", *map(str, rest)]

    return await _change(db, user_id, change, locate)


async def reset(db: AsyncSession, user_id: uuid.UUID) -> None:
    await _change(db, user_id, lambda _: {}, _in_body)


async def apply_preset(db: AsyncSession, user_id: uuid.UUID, name: str) -> Snapshot:
    preset = PRESETS.get(name)
    if preset is None:
        raise NotFound(f"No preset named {name!r}", code="unknown_preset")
    return await _change(
        db,
        user_id,
        lambda current: merge_patch(current, preset.values),
        lambda loc: ["preferences", *map(str, loc)],
    )


def _in_body(loc: tuple[str | int, ...]) -> list[str]:
    return ["body", *map(str, loc)]


async def _change(
    db: AsyncSession,
    user_id: uuid.UUID,
    change: Callable[[Choices], Choices],
    locate: Locate,
    *,
    expected_version: int | None = None,
) -> Snapshot:
    row = await repository.lock(db, user_id)
    if expected_version is not None and expected_version != row.version:
        raise Conflict(
            f"The preferences are at version {row.version}, not {expected_version}; "
            "read them again and re-apply the change",
            code="version_conflict",
            details={"version": row.version},
        )
    current, _ = _sanitised(row.data, user_id)
    choices = change(current)
    try:
        document = Preferences.model_validate(choices)
    except ValidationError as exc:
        errors = [
            {"loc": locate(tuple(error["loc"])), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed("Invalid preferences", details={"errors": errors}) from exc
    stored = _project(document.model_dump(mode="json"), choices)
    size = len(json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"Preferences are limited to {MAX_DOCUMENT_BYTES} bytes as JSON",
            code="preferences_too_large",
            details={"max_bytes": MAX_DOCUMENT_BYTES, "bytes": size},
        )
    if stored != row.data or row.version == 0:  # an unchanged document keeps its version
        row.data = stored
        row.version += 1
        row.updated_at = utcnow()
        await db.flush()
    return Snapshot(document, row.updated_at, row.version)


# --- the document --------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; never modifies its arguments."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _without(choices: Choices, keys: Sequence[str]) -> Choices:
    head, *rest = keys
    result = dict(choices)
    if not rest:
        result.pop(head, None)
    elif isinstance(result.get(head), dict):
        result[head] = _without(result[head], rest)
    return result


def _nested(keys: Sequence[str], value: Any) -> Choices:
    for key in reversed(keys[1:]):
        value = {key: value}
    return {keys[0]: value}


def _project(document: Choices, choices: Choices) -> Choices:
    """The validated (canonical) values of just the keys the user chose; empty objects go."""
    out: Choices = {}
    for key, chosen in choices.items():
        if key not in document:
            continue
        value = document[key]
        if isinstance(chosen, dict) and isinstance(value, dict):
            value = _project(value, chosen)
            if not value:
                continue
        out[key] = value
    return out


def _sanitised(data: Any, user_id: uuid.UUID) -> tuple[Choices, Preferences]:
    """Stored choices that no longer validate (the schema moved on) are dropped, not fatal."""
    choices: Choices = data if isinstance(data, dict) else {}
    try:
        return choices, Preferences.model_validate(choices)
    except ValidationError:
        choices = copy.deepcopy(choices)
    for _ in range(8):
        try:
            document = Preferences.model_validate(choices)
        except ValidationError as exc:
            dropped = [e["loc"] for e in exc.errors() if _drop(choices, e["loc"])]
            log.warning(
                "preferences_choices_dropped",
                user_id=str(user_id),
                paths=[".".join(map(str, loc)) for loc in dropped],
            )
            if not dropped:
                break
        else:
            return choices, document
    return {}, Preferences()


def _drop(choices: Choices, loc: tuple[str | int, ...]) -> bool:
    node: Any = choices
    for i, key in enumerate(loc):
        if not isinstance(node, dict) or key not in node:
            return False
        if i == len(loc) - 1 or not isinstance(node[key], dict):
            del node[key]
            return True
        node = node[key]
    return False


# --- dotted paths --------------------------------------------------------------------------


def _addressable(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], TypeAdapter[Any] | None]:
    """Every path in the schema; mappings (dict fields) carry an adapter for their keys."""
    out: dict[tuple[str, ...], TypeAdapter[Any] | None] = {}
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[path] = None
            out.update(_addressable(annotation, path))
        elif get_origin(annotation) is dict:
            out[path] = TypeAdapter(get_args(annotation)[0])
        else:
            out[path] = None
    return out


_PATHS = _addressable(Preferences)


def resolve(path: str) -> tuple[str, ...]:
    """The keys of a dotted path that names a preference (or a key of a mapping), else 404."""
    keys = tuple(path.split("."))
    if keys in _PATHS:
        return keys
    key_type = _PATHS.get(keys[:-1])
    if key_type is not None:
        try:
            key_type.validate_python(keys[-1])
        except ValidationError:
            pass
        else:
            return keys
    raise NotFound(f"No preference named {path!r}", code="unknown_preference")


def value_at(preferences: Preferences, keys: Sequence[str]) -> Any:
    node: Any = preferences.model_dump(mode="json")
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None  # a mapping key nobody set
        node = node[key]
    return node

"""Pydantic shapes of import and export: the report, local chats, Convobase's format."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from convobase.messages.schemas import MAX_CONTENT, Role
from convobase.timestamps import LenientUTCDatetime

EXPORT_FORMAT = "convobase-export"
CONVERSATION_FORMAT = "convobase-conversation"
FORMAT_VERSION = 1
MAX_REPORTED = 1000  # skipped items listed one by one; beyond, only counted


class Counts(BaseModel):
    imported: int = 0
    skipped: int = 0


class MessageCounts(Counts):
    skipped_by_reason: dict[str, int] = Field(
        default_factory=dict,
        description="Messages not imported, by reason (no_message, hidden, empty, ...).",
    )
    truncated: int = Field(
        0,
        description="Imported messages shortened to the text limit (100,000 characters); "
        'their metadata says `"truncated": true`.',
    )


class Skipped(BaseModel):
    kind: Literal["conversation", "file", "entry", "preferences", "usage_events"]
    index: int | None = Field(None, description="Position in the file (0-based), when known.")
    id: str | None = Field(None, description="The item's id in the source, when known.")
    reason: str = Field(description="A short code: already_imported, cycle, invalid_node...")
    message: str


class ImportReport(BaseModel):
    source: str = Field(description="chatgpt, convobase or local.")
    conversations: Counts = Field(default_factory=Counts)
    messages: MessageCounts = Field(default_factory=MessageCounts)
    files: Counts = Field(default_factory=Counts)
    usage_events: Counts = Field(default_factory=Counts)
    preferences: Literal["restored", "skipped"] | None = None
    orphans_reattached: int = Field(
        0, description="Messages whose parent was missing, imported as roots of their tree."
    )
    skipped: list[Skipped] = Field(default_factory=list)
    skipped_truncated: bool = Field(
        False, description=f"More than {MAX_REPORTED} items were skipped; only counted beyond."
    )

    def skip(
        self,
        kind: Literal["conversation", "file", "entry", "preferences", "usage_events"],
        reason: str,
        message: str,
        *,
        index: int | None = None,
        id: str | None = None,
    ) -> None:
        if kind == "conversation":
            self.conversations.skipped += 1
        elif kind == "file":
            self.files.skipped += 1
        if len(self.skipped) >= MAX_REPORTED:
            self.skipped_truncated = True
            return
        self.skipped.append(
            Skipped(kind=kind, index=index, id=id, reason=reason, message=message[:500])
        )


# --- local chats (POST /api/v1/import/local) ----------------------------------------------


class LocalMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    role: Role
    content: str = Field(max_length=MAX_CONTENT)
    created_at: datetime | float | None = None
    parent_id: str | None = Field(
        None, max_length=200, description="Absent: the previous message in the list."
    )
    model: str | None = Field(None, max_length=200)


class LocalConversation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200, description="The client's id for it.")
    title: str | None = Field(None, max_length=500)
    created_at: datetime | float | None = None
    messages: list[LocalMessage] = Field(default_factory=list)


class LocalImportIn(BaseModel):
    """Chats a client kept before sign-in; each conversation is checked on its own."""

    conversations: list[dict[str, Any]] = Field(max_length=100_000)


# --- Convobase's export format --------------------------------------------------------------


class ExportedEdit(BaseModel):
    parts: list[dict[str, Any]]
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    edited_at: LenientUTCDatetime


class ExportedFeedback(BaseModel):
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=5000)
    created_at: LenientUTCDatetime | None = None
    updated_at: LenientUTCDatetime | None = None


class ExportedMessage(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    parent_id: str | None = Field(None, max_length=200)
    role: Role
    parts: list[dict[str, Any]] = Field(max_length=1000)
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: str = Field("complete", max_length=16)
    edit_count: int = Field(0, ge=0)
    created_at: LenientUTCDatetime
    updated_at: LenientUTCDatetime | None = None
    edits: list[ExportedEdit] = Field(default_factory=list, max_length=10_000)
    feedback: ExportedFeedback | None = None


class ExportedToolRun(BaseModel):
    id: str
    message_id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    input: Any = None
    output: Any = None
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    error: str | None = None
    duration_ms: int | None = Field(None, ge=0)
    tokens: int | None = Field(None, ge=0)
    created_at: LenientUTCDatetime
    updated_at: LenientUTCDatetime | None = None
    started_at: LenientUTCDatetime | None = None
    finished_at: LenientUTCDatetime | None = None


class ExportedLog(BaseModel):
    id: str
    level: Literal["debug", "info", "warning", "error"]
    type: str = Field(max_length=64)
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: LenientUTCDatetime


class ExportedConversation(BaseModel):
    format: Literal["convobase-conversation"]
    version: Literal[1]
    id: str = Field(min_length=1, max_length=200)
    title: str | None = Field(None, max_length=500)
    domain: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=35)
    model: str | None = Field(None, max_length=200)
    system_prompt: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=50)
    pinned: bool = False
    archived: bool = False
    created_at: LenientUTCDatetime
    updated_at: LenientUTCDatetime | None = None
    last_activity_at: LenientUTCDatetime | None = None
    current_leaf_id: str | None = None
    messages: list[ExportedMessage]
    tool_runs: list[ExportedToolRun] = Field(default_factory=list)
    logs: list[ExportedLog] = Field(default_factory=list)


class ExportedFile(BaseModel):
    id: str
    conversation_id: str | None = None
    message_id: str | None = None
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=255)
    claimed_type: str | None = Field(None, max_length=255)
    size: int = Field(ge=0)
    version: int = Field(1, ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    analysis: dict[str, Any] = Field(default_factory=dict)
    created_at: LenientUTCDatetime
    path: str = Field(description="Where its bytes are in the zip: files/<id>/<filename>.")


class ExportManifest(BaseModel):
    format: Literal["convobase-export"]
    version: Literal[1]
    exported_at: datetime
    account: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)

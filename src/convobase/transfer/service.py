"""Imports: a file (ChatGPT or Convobase) or a client's local chats into one user's account.

Conversations are read one at a time, checked and arranged (`tree.arrange`), and written a
batch at a time (`writer.write`). A conversation that breaks a rule is skipped and reported,
the others go on. The ledger (`imported_conversations`: user, source, source id) makes an
import idempotent: what was imported before is skipped as ``already_imported``.

Transactions: services only flush. Through the API everything happens in the request's
transaction (all or nothing, but for the reported skips). The CLI passes ``commit``, called
after each batch, so a large import holds no lock for long and a crash keeps the batches done
(running it again resumes: the ledger skips them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.backends.storage import BlobStorage
from convobase.config import Settings
from convobase.errors import ConvobaseError
from convobase.models import User
from convobase.preferences import service as preferences
from convobase.transfer import chatgpt, formats, writer, zips
from convobase.transfer.files import FilePlan, import_files, plan_files
from convobase.transfer.schemas import ImportReport, LocalImportIn
from convobase.transfer.sources import USAGE, ImportFile
from convobase.transfer.tree import Item, ItemInvalid, arrange

Progress = Callable[[int, int], None]  # (conversations done, total)
Commit = Callable[[], Awaitable[None]]


def limits(settings: Settings) -> zips.Limits:
    return zips.Limits(
        max_total=settings.import_zip_max_bytes,
        max_ratio=settings.import_zip_max_ratio,
        max_entries=settings.import_zip_max_entries,
        max_item=settings.import_max_item_bytes,
    )


@dataclass
class _Run:
    """One import's state: the batch in the making, the counts, the ids seen."""

    db: AsyncSession
    settings: Settings
    user: User
    report: ImportReport
    batch_size: int
    commit: Commit | None = None
    progress: Progress | None = None
    total: int = 0
    done: int = 0
    batch: list[tuple[int, Item]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    messages: int = 0
    plan: FilePlan | None = None

    async def add(self, index: int, parsed: Item | ItemInvalid, source_id: str | None) -> None:
        report, settings = self.report, self.settings
        if isinstance(parsed, ItemInvalid):
            report.skip("conversation", parsed.reason, parsed.message, index=index, id=source_id)
        elif parsed.source_id in self.seen:
            report.skip(
                "conversation",
                "duplicate",
                "The same conversation appears twice in the file",
                index=index,
                id=parsed.source_id,
            )
        elif report.conversations.imported + len(self.batch) >= settings.import_max_conversations:
            report.skip(
                "conversation",
                "limit",
                f"At most {settings.import_max_conversations} conversations per import",
                index=index,
                id=parsed.source_id,
            )
        else:
            self.seen.add(parsed.source_id)
            self.batch.append((index, parsed))
        self.done += 1
        if len(self.batch) >= self.batch_size:
            await self.flush()
        elif self.progress is not None:
            self.progress(self.done, self.total)

    async def flush(self) -> None:
        report, batch, self.batch = self.report, self.batch, []
        source = batch[0][1].source if batch else ""
        known = await writer.already_imported(
            self.db, self.user.id, source, [item.source_id for _, item in batch]
        )
        rows: list[writer.Rows] = []
        for index, item in batch:
            if item.source_id in known:
                report.skip(
                    "conversation",
                    "already_imported",
                    "Imported before; delete that conversation to import it again",
                    index=index,
                    id=item.source_id,
                )
                continue
            try:
                arrange(item, max_messages=self.settings.import_max_messages_per_conversation)
                if self.messages + len(item.kept) > self.settings.import_max_messages:
                    raise ItemInvalid(
                        "limit", f"At most {self.settings.import_max_messages} messages per import"
                    )
                plan = self.plan
                prepared = writer.prepare(
                    item,
                    self.user.id,
                    files=plan.file_ids if plan else None,
                    wanted=plan.message_refs if plan else None,
                )
            except ItemInvalid as exc:
                report.skip("conversation", exc.reason, exc.message, index=index, id=item.source_id)
                continue
            rows.append(prepared)
            self.messages += len(item.kept)
            report.conversations.imported += 1
            report.messages.imported += len(item.kept)
            report.messages.truncated += sum(1 for n in item.kept if n.meta.get("truncated"))
            report.orphans_reattached += item.orphans
            by_reason = report.messages.skipped_by_reason
            for reason, count in item.dropped.items():
                by_reason[reason] = by_reason.get(reason, 0) + count
                report.messages.skipped += count
            if self.plan is not None:
                self.plan.conversation_ids[item.source_id] = prepared.conversation["id"]
                self.plan.message_ids.update(prepared.message_ids)
        await writer.write(self.db, rows)
        await self.db.flush()
        if self.commit is not None:
            await self.commit()
        if self.progress is not None:
            self.progress(self.done, self.total)


def _parser(kind: str, settings: Settings) -> Callable[[Any], Item]:
    most = settings.import_max_messages_per_conversation
    if kind == "chatgpt":
        return lambda raw: chatgpt.parse(raw, max_messages=most)
    if kind == "convobase":
        return formats.convobase_item
    return formats.local_item


def _source_id(raw: Any) -> str | None:
    """The id of a raw conversation, for the report, when it has a usable one."""
    if not isinstance(raw, dict):
        return None
    value = raw.get("conversation_id") or raw.get("id")
    return value[:200] if isinstance(value, str) else None


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters removed from every string: PostgreSQL's text cannot hold
    them (the insert would fail), and no chat needs them."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


async def _conversations(run: _Run, raws: Iterable[Any], parse: Callable[[Any], Item]) -> None:
    for index, raw in enumerate(raws):
        try:
            parsed: Item | ItemInvalid = parse(without_nul(raw))
        except ItemInvalid as exc:
            parsed = exc
        await run.add(index, parsed, _source_id(raw))
    await run.flush()


async def import_file(
    db: AsyncSession,
    storage: BlobStorage,
    settings: Settings,
    user: User,
    path: Path,
    *,
    commit: Commit | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the file at ``path`` (any accepted format, see `sources`) for ``user``.

    Raises before writing anything when the file is refused as a whole (unsafe or damaged zip,
    unknown format, JSON broken anywhere).
    """
    # The whole-file passes run in a worker thread, so a server keeps serving meanwhile.
    opened = await anyio.to_thread.run_sync(ImportFile.open, path, limits(settings))
    try:
        report = ImportReport(source=opened.kind)
        run = _Run(db, settings, user, report, settings.import_batch_size, commit, progress)
        run.total = await anyio.to_thread.run_sync(opened.count)
        if progress is not None:
            progress(0, run.total)
        if opened.kind == "convobase" and opened.archive is not None:
            run.plan = await plan_files(db, user, opened, report)
        await _conversations(run, opened.conversations(), _parser(opened.kind, settings))
        if run.plan is not None:
            await import_files(db, storage, settings, user, opened, run.plan, report)
            await _preferences(db, user, opened.preferences(), report)
            usage = sum(1 for _ in opened.jsonl(USAGE)) if opened.has(USAGE) else 0
            if usage:
                report.usage_events.skipped = usage
                report.skip(
                    "usage_events",
                    "not_imported",
                    f"{usage} usage events are kept by the server that metered them; "
                    "usage is never imported",
                )
            await db.flush()
            if commit is not None:
                await commit()
    finally:
        opened.close()
    return report


async def _preferences(db: AsyncSession, user: User, raw: Any, report: ImportReport) -> None:
    if raw is None:
        return
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict):
        report.preferences = "skipped"
        report.skip("preferences", "invalid_preferences", "preferences.json has no `data` object")
        return
    try:
        await preferences.update(db, user.id, data)  # the same checks as PATCH /preferences
    except ConvobaseError as exc:
        report.preferences = "skipped"
        report.skip("preferences", exc.code, exc.message)
        return
    report.preferences = "restored"


async def import_local(
    db: AsyncSession, settings: Settings, user: User, body: LocalImportIn
) -> ImportReport:
    """A client's locally kept chats (README: "Local chats"), idempotent by the client's ids."""
    report = ImportReport(source="local")
    run = _Run(db, settings, user, report, settings.import_batch_size)
    run.total = len(body.conversations)
    await _conversations(run, body.conversations, formats.local_item)
    return report

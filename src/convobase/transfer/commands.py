"""The work behind `convobase import` and `convobase export` (cli.py holds the commands).

The CLI's import commits after every batch of CONVOBASE_IMPORT_BATCH_SIZE conversations (the
API import is one transaction): a long import holds the write lock briefly at a time, and
running it again after an interruption resumes, since the ledger skips what was committed.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.errors import NotFound
from convobase.models import User
from convobase.runtime import Runtime
from convobase.transfer import export, service
from convobase.transfer.schemas import ImportReport
from convobase.users import repository

SHOWN_SKIPS = 20


async def _user(db: AsyncSession, email: str) -> User:
    user = await repository.get_by_email(db, email)
    if user is None:
        raise NotFound(f"no account {email}")
    return user


async def run_import(runtime: Runtime, email: str, path: Path, console: Console) -> ImportReport:
    async with runtime.database.session() as db:
        user = await _user(db, email)
        columns = (
            TextColumn("[bold]Importing[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("conversations"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(path.name, total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = await service.import_file(
                db,
                runtime.storage,
                runtime.settings,
                user,
                path,
                commit=db.commit,
                progress=progress,
            )
        await db.commit()
    return report


def print_report(console: Console, report: ImportReport) -> None:
    table = Table("", "imported", "skipped", title=f"Import ({report.source})")
    table.add_row(
        "conversations", str(report.conversations.imported), str(report.conversations.skipped)
    )
    table.add_row("messages", str(report.messages.imported), str(report.messages.skipped))
    table.add_row("files", str(report.files.imported), str(report.files.skipped))
    table.add_row(
        "usage events", str(report.usage_events.imported), str(report.usage_events.skipped)
    )
    console.print(table)
    if report.messages.skipped_by_reason:
        reasons = ", ".join(
            f"{k} {v}" for k, v in sorted(report.messages.skipped_by_reason.items())
        )
        console.print(f"Messages left out: {reasons}.")
    if report.orphans_reattached:
        console.print(f"{report.orphans_reattached} messages with a missing parent became roots.")
    if report.preferences:
        console.print(f"Preferences {report.preferences}.")
    for skip in report.skipped[:SHOWN_SKIPS]:
        where = f"#{skip.index}" if skip.index is not None else skip.kind
        line = f"  skipped {where} {skip.id or ''} [{skip.reason}] {skip.message}"
        console.print(escape(line))
    more = len(report.skipped) - SHOWN_SKIPS
    if more > 0 or report.skipped_truncated:
        console.print("  ... and more skipped items (see --json for the full report)")


async def run_export(runtime: Runtime, email: str, output: Path, console: Console) -> int:
    """Write the account's export zip to ``output`` (through a temporary name); its size."""
    async with runtime.database.session(write=False) as db:
        user = await _user(db, email)
    partial = output.with_name(output.name + ".part")
    written = 0
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]Exporting[/bold] {task.description}"),
        DownloadColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as bar, partial.open("wb") as out:
            task = bar.add_task(user.email, total=None)
            async for chunk in export.export_zip(runtime.database, runtime.storage, user.id):
                out.write(chunk)
                written += len(chunk)
                bar.update(task, completed=written)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written

"""The `convobase` command: serve, db upgrade, users ... (users/commands.py), keys rotate,
prune, import, export."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from convobase.accounts import guests
from convobase.auth.passwords import PasswordHasher
from convobase.cli_common import (
    console,
    email_or_exit,
    err,
    load_settings,
    run_in_transaction,
    run_with_runtime,
)
from convobase.config import Settings
from convobase.db.engine import Database
from convobase.db.migrate import upgrade
from convobase.errors import ConfigError
from convobase.keys import service as vault
from convobase.transfer import commands as transfer
from convobase.users import repository
from convobase.users.commands import users_app
from convobase.users.service import create_user

app = typer.Typer(
    help="Convobase: the open-source backend for AI chat applications.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
keys_app = typer.Typer(help="The provider key vault.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")


async def _ensure_admin(db: AsyncSession, settings: Settings) -> str | None:
    """Create CONVOBASE_ADMIN_EMAIL as an admin unless that account exists already."""
    if not (settings.admin_email and settings.admin_password):
        return None
    email = email_or_exit(settings.admin_email)
    if await repository.get_by_email(db, email) is not None:
        return None
    await create_user(
        db,
        PasswordHasher.from_settings(settings),
        settings,
        email=email,
        password=settings.admin_password.get_secret_value(),
        role="admin",
    )
    return email


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (CONVOBASE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CONVOBASE_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first.")] = True,
) -> None:
    """Apply migrations and serve the API (SQLite and ./data unless configured)."""
    import uvicorn

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    if migrate:
        upgrade(settings.resolved_database_url)
    created = run_in_transaction(settings, lambda db: _ensure_admin(db, settings))
    if created:
        err.print(f"Created admin account {created}")
    if settings.public_url is None:
        os.environ["CONVOBASE_PUBLIC_URL"] = f"http://{host}:{port}"
    uvicorn.run(
        "convobase.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations up to REVISION (default: head)."""
    settings = load_settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(f"Database at revision {revision}.")


@app.command()
def prune() -> None:
    """Delete idle guests, expired sessions, sign-in states and stale quota reservations.

    Guests idle longer than CONVOBASE_GUEST_IDLE_HOURS go with everything they own, as an
    account deletion. Safe to run while serving (cron)."""
    settings = load_settings()
    report = run_with_runtime(settings, guests.prune)
    console.print(
        f"Pruned {report.guests} idle guests, {report.sessions} expired sessions, "
        f"{report.reservations} stale quota reservations."
    )


@app.command("import")
def import_history(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="conversations.json or a zip."
        ),
    ],
    user: Annotated[str, typer.Option("--user", help="Email of the account to import into.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Import ChatGPT's conversations.json or export zip, or a Convobase export, into an account.

    Idempotent: conversations imported before are skipped. Malformed conversations are skipped
    and reported; the rest is imported, committed every CONVOBASE_IMPORT_BATCH_SIZE."""
    settings = load_settings()
    address = email_or_exit(user)
    report = run_with_runtime(
        settings, lambda runtime: transfer.run_import(runtime, address, file, err)
    )
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        transfer.print_report(console, report)


@app.command("export")
def export_account(
    user: Annotated[str, typer.Option("--user", help="Email of the account to export.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="Zip to write (default: ./convobase-export-<email>.zip).",
        ),
    ] = None,
) -> None:
    """Write an account's whole history as a zip (Convobase's export format).

    Conversations with branches, messages, tool runs, files and their bytes, preferences and
    usage, with a Markdown copy of each conversation."""
    settings = load_settings()
    address = email_or_exit(user)
    target = output or Path(f"convobase-export-{address.replace('@', '_at_')}.zip")
    size = run_with_runtime(
        settings, lambda runtime: transfer.run_export(runtime, address, target, err)
    )
    console.print(f"Exported {address} to {target} ({size:,} bytes).")


_ROTATE_HELP = (
    "Re-encrypt every stored provider key under the current secret key.\n\n"
    "Rotation: add the old secret to CONVOBASE_PREVIOUS_SECRET_KEYS (a JSON list), set the new "
    "CONVOBASE_SECRET_KEY, restart the servers, run this, then drop the old secret.\n\n"
    "Safe while serving: each batch is one short transaction and every key stays readable "
    "throughout. Exits 1 when some keys open with none of the configured secrets (they are left "
    "as they are)."
)


@keys_app.command("rotate", help=_ROTATE_HELP)
def keys_rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Keys re-encrypted per transaction.")
    ] = 100,
) -> None:
    """Re-encrypt every stored provider key under the current secret key."""
    settings = load_settings()

    async def rotate() -> tuple[int, int]:
        database = Database.from_settings(settings)
        rotated = failed = 0
        after = None
        try:
            while True:
                async with database.session() as db:
                    batch = await vault.rotate_batch(db, settings, after=after, limit=batch_size)
                    await db.commit()
                if batch.seen == 0:
                    return rotated, failed
                rotated += batch.rotated
                failed += batch.failed
                after = batch.last_id
        finally:
            await database.dispose()

    rotated, failed = asyncio.run(rotate())
    console.print(f"Re-encrypted {rotated} provider keys under the current secret key.")
    if failed:
        err.print(
            f"[red]Error:[/red] {failed} provider keys could not be decrypted with the configured "
            "secrets (CONVOBASE_SECRET_KEY, CONVOBASE_PREVIOUS_SECRET_KEYS) and were left as "
            "they are; add the secret that encrypted them and run this again, or have their "
            "owners enter them again."
        )
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except ConfigError as exc:  # raised by a worker's settings check
        err.print(f"[red]Configuration error:[/red] {exc}")
        sys.exit(2)

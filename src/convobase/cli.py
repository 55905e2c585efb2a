"""The `convobase` command: serve, db upgrade, users ... (users/commands.py), keys rotate,
prune, import, export.

Only typer and rich are imported at the top (see cli_common.py): the rest inside the commands.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from convobase.cli_common import (
    DEBUG,
    ConvobaseGroup,
    console,
    email_or_exit,
    err,
    load_settings,
    run_in_transaction,
    run_with_runtime,
)
from convobase.users.commands import users_app

if TYPE_CHECKING:
    import socket

    from sqlalchemy.ext.asyncio import AsyncSession

    from convobase.config import Settings

app = typer.Typer(
    cls=ConvobaseGroup,
    help="Convobase: the open-source backend for AI chat applications.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: no metavar on flags, and no Rich import for --help
    pretty_exceptions_show_locals=False,  # --debug tracebacks must not print secrets
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
keys_app = typer.Typer(help="The provider key vault.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")

EXAMPLE_EMAIL = "ada@example.com"


def default_export_path(email: str) -> Path:
    """Where `convobase export` writes without --output: the current folder."""
    return Path(f"convobase-export-{email.replace('@', '_at_')}.zip")


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of a failure.")
    ] = False,
) -> None:
    """Convobase: the open-source backend for AI chat applications."""
    ctx.meta[DEBUG] = debug


async def _ensure_admin(db: AsyncSession, settings: Settings) -> tuple[str | None, int]:
    """Create CONVOBASE_ADMIN_EMAIL as an admin unless that account exists already; returns
    the address created (if any) and how many enabled admins there are."""
    from convobase.auth.passwords import PasswordHasher
    from convobase.users import repository
    from convobase.users.service import create_user

    created = None
    if settings.admin_email and settings.admin_password:
        email = email_or_exit(settings.admin_email)
        if await repository.get_by_email(db, email) is None:
            await create_user(
                db,
                PasswordHasher.from_settings(settings),
                settings,
                email=email,
                password=settings.admin_password.get_secret_value(),
                role="admin",
            )
            created = email
    return created, await repository.count_enabled_admins(db)


def served_url(host: str, port: int) -> str:
    """The address to open in a browser for a server bound to ``host``:``port``."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (naming the wildcard, not binding to it)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _program() -> str:
    """How to run `convobase` again, as it was started (`.venv/bin/convobase` under make run)."""
    invoked = sys.argv[0] if sys.argv else ""
    return invoked if Path(invoked).name == "convobase" else "convobase"


def _announce(host: str, port: int, public_url: str | None, admins: int) -> None:
    wildcard = host in ("", "0.0.0.0", "::")  # noqa: S104
    where = " (listening on all addresses)" if wildcard else ""
    console.print(
        f"Convobase on {served_url(host, port)}{where} — open it in a browser",
        soft_wrap=True,
        markup=False,
    )
    if public_url:
        console.print(f"Public address (CONVOBASE_PUBLIC_URL): {public_url}", soft_wrap=True)
    if not admins:
        console.print(
            f"No admin account yet. Make the first one with `{_program()} users create --email "
            f"{EXAMPLE_EMAIL} --admin` (it asks for a password), or set CONVOBASE_ADMIN_EMAIL "
            "and CONVOBASE_ADMIN_PASSWORD and restart.",
            soft_wrap=True,
            markup=False,
        )
    console.print("Press Ctrl+C to stop.")


def _check_storage(settings: Settings) -> None:
    """Fail now, in one line, when the file storage cannot be used (a missing bucket, refused
    credentials) rather than on the first upload."""
    import asyncio

    from convobase.backends.storage import open_storage

    async def ping() -> None:
        storage = open_storage(settings)
        try:
            await storage.ping()
        finally:
            await storage.aclose()

    asyncio.run(ping())


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Bind address (CONVOBASE_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Port (CONVOBASE_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Worker processes.")] = 1,
    migrate: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")
    ] = True,
) -> None:
    """Apply migrations and serve the API and the web console (SQLite and ./data unless
    configured). Prints the address to open and, while there is none, how to make the first
    admin account."""
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from convobase.db.migrate import upgrade

    settings = load_settings()
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    if migrate:
        upgrade(settings.resolved_database_url)
    _check_storage(settings)
    created, admins = run_in_transaction(settings, lambda db: _ensure_admin(db, settings))
    if created:
        err.print(f"Created admin account {created}")
    public_url = settings.public_url
    if public_url is None:
        os.environ["CONVOBASE_PUBLIC_URL"] = served_url(host, port)

    config = uvicorn.Config(
        "convobase.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=True,
    )

    def announce(bound_port: int) -> None:
        _announce(host, bound_port, str(public_url) if public_url else None, admins)

    class AnnouncingServer(uvicorn.Server):
        """Says where it serves once it listens: the real port, even for --port 0."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and sockets is None:
                announce(self.servers[0].sockets[0].getsockname()[1])

    if workers > 1:
        sock = config.bind_socket()  # in the parent, shared by the workers
        announce(sock.getsockname()[1])
        Multiprocess(config, sockets=[sock]).run()
        return
    server = AnnouncingServer(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(3)  # uvicorn logged why (a port in use...): its startup-failure status


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision.")] = "head",
) -> None:
    """Apply database migrations up to REVISION (default: head)."""
    from convobase.db.migrate import upgrade

    settings = load_settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(f"Database at revision {revision}.")


@app.command()
def prune() -> None:
    """Delete idle guests, expired sessions, sign-in states and stale quota reservations.

    Guests idle longer than CONVOBASE_GUEST_IDLE_HOURS go with everything they own, as an
    account deletion. Safe to run while serving (cron)."""
    from convobase.accounts import guests

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
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE",
            help="conversations.json or a zip.",
        ),
    ],
    user: Annotated[
        str, typer.Option("--user", metavar="EMAIL", help="Email of the account to import into.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Import ChatGPT's conversations.json or export zip, or a Convobase export, into an account.

    Idempotent: conversations imported before are skipped. Malformed conversations are skipped
    and reported; the rest is imported, committed every CONVOBASE_IMPORT_BATCH_SIZE."""
    from convobase.transfer import commands as transfer

    settings = load_settings()
    address = email_or_exit(user)
    report = run_with_runtime(
        settings, lambda runtime: transfer.run_import(runtime, address, file, err)
    )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        transfer.print_report(console, report)


@app.command("export")
def export_account(
    user: Annotated[
        str, typer.Option("--user", metavar="EMAIL", help="Email of the account to export.")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            metavar="PATH",
            help="Zip to write (default: convobase-export-EMAIL.zip in the current folder, "
            f"with @ as _at_: {default_export_path(EXAMPLE_EMAIL)} for {EXAMPLE_EMAIL}).",
        ),
    ] = None,
) -> None:
    """Write an account's whole history as a zip (Convobase's export format).

    Conversations with branches, messages, tool runs, files and their bytes, preferences and
    usage, with a Markdown copy of each conversation."""
    from convobase.transfer import commands as transfer

    settings = load_settings()
    address = email_or_exit(user)
    target = output or default_export_path(address)
    size = run_with_runtime(
        settings, lambda runtime: transfer.run_export(runtime, address, target, err)
    )
    console.print(f"Exported {address} to {target} ({size:,} bytes).", soft_wrap=True)


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
        int,
        typer.Option(min=1, max=10_000, metavar="N", help="Keys re-encrypted per transaction."),
    ] = 100,
) -> None:
    """Re-encrypt every stored provider key under the current secret key."""
    import asyncio

    from convobase.db.engine import Database
    from convobase.keys import service as vault

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
    app()

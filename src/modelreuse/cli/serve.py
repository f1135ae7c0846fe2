"""``modelreuse serve``, ``modelreuse user ...`` and ``modelreuse token ...``: run a dock server and
manage its accounts (in the dock's database, so they work while the server runs)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from modelreuse.cli._common import DockOpt, JsonOpt, console, emit, plain

DbOpt = typer.Option(None, "--db", help="Metadata database URL, e.g. postgresql+psycopg://user@host/db "
                                        "(default: the dock's SQLite file).")

users = typer.Typer(help="Accounts of a dock server.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens of a dock server.", no_args_is_help=True)


def serve(dock: Path = DockOpt, db: str | None = DbOpt,
          host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, help="Port to listen on."),
          workers: int = typer.Option(1, help="uvicorn worker processes."),
          anonymous_read: bool = typer.Option(True, help="Allow listing, download and search without a token."),
          max_upload_mb: int = typer.Option(64, help="Largest accepted learnware zip (MiB)."),
          validation_workers: int = typer.Option(1, help="Sandboxed validations run at once per worker."),
          rate_limit: int = typer.Option(0, help="Requests per token (or address) per minute; 0 is no limit."),
          as_json: bool = typer.Option(False, "--json", help="Print where the server listens as JSON on "
                                                             "stdout before serving (logs go to stderr).")) -> None:
    """Serve the dock at DOCK: REST API under /api/v1 (docs at /api/v1/docs) and web pages at /."""
    import uvicorn

    from modelreuse.server.settings import MIB, SETTINGS_ENV, ServerSettings

    settings = ServerSettings(dock_root=dock, db_url=db, anonymous_read=anonymous_read,
                              max_upload_bytes=max_upload_mb * MIB, validation_workers=validation_workers,
                              rate_limit_per_minute=rate_limit)
    _accounts(dock, db)  # create the dock and tables once, before the workers race to
    os.environ[SETTINGS_ENV] = settings.to_env()
    url = f"http://{host}:{port}"
    where = {"url": url, "api": f"{url}/api/v1", "docs": f"{url}/api/v1/docs", "dock": str(settings.dock_root),
             "database": "sqlite" if db is None else db.split(":", 1)[0]}
    emit(where, as_json, lambda d: console.print(plain(f"serving the dock at {d['dock']} on {d['url']} "
                                                       f"(API docs: {d['docs']})")))
    uvicorn.run("modelreuse.server.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info")


def _accounts(dock: Path, db: str | None):
    """The accounts of the dock at ``dock``, with every server table created (once, here, before
    any worker process starts)."""
    from modelreuse.dock import Dock
    from modelreuse.server.accounts import Accounts
    from modelreuse.server.uploads import create_tables

    engine = Dock(dock, url=db).engine
    create_tables(engine)
    return Accounts(engine)


@users.command("create")
def user_create(name: str = typer.Argument(..., help="User name (letters, digits, '_', '.', '-')."),
                admin: bool = typer.Option(False, "--admin", help="Make the user an administrator."),
                dock: Path = DockOpt, db: str | None = DbOpt, as_json: bool = JsonOpt) -> None:
    """Create a user of the dock server."""
    _accounts(dock, db).create_user(name, admin=admin)
    emit({"user": name, "admin": admin}, as_json, lambda d: console.print(plain(f"created user {d['user']}")))


@users.command("list")
def user_list(dock: Path = DockOpt, db: str | None = DbOpt, as_json: bool = JsonOpt) -> None:
    """List the server's users."""
    emit(_accounts(dock, db).users(), as_json,
         lambda rows: [console.print(plain(f"{r['name']}{' (admin)' if r['is_admin'] else ''}")) for r in rows])


@tokens.command("create")
def token_create(user: str = typer.Option(..., "--user", help="Whose token it is."),
                 scope: list[str] = typer.Option(["read"], "--scope", help="read, write or admin (repeatable)."),
                 label: str = typer.Option("", help="A note to recognise the token by."),
                 dock: Path = DockOpt, db: str | None = DbOpt, as_json: bool = JsonOpt) -> None:
    """Create an API token; it is printed once (only its hash is stored)."""
    token = _accounts(dock, db).create_token(user, scope, label=label)
    emit({"user": user, "scopes": scope, "token": token}, as_json, lambda d: typer.echo(d["token"]))

"""A real dock server for the server tests: ``modelreuse serve`` in a subprocess (uvicorn on a free
loopback port), against SQLite and against a throwaway PostgreSQL cluster, with an admin and a
plain user and their tokens created through the accounts tables of the same database.

A test module gets at most one server per database kind, started when a test first asks for it and
stopped when the module ends: ``live_server`` (parametrised over both kinds, for what the database
changes: SQL paths, concurrency, ownership) and ``sqlite_server`` (everything else) are the same
SQLite server within a module. Also the zips of three real Ridge learnwares (``ridge_zips``), built
once per test process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelreuse.bench.postgres import fresh_database
from modelreuse.bench.server_load import running_server
from modelreuse.dock import Dock
from modelreuse.server.accounts import Accounts
from tests.dock.conftest import build_ridge, station_rows  # noqa: F401  (station_rows is a fixture)

STARTUP_TIMEOUT_S = 90


@dataclass
class LiveServer:
    """A running server: its base URL, dock root, database URL and tokens of two users
    (``admin``, an administrator, and ``alice``, a plain user with read and write)."""

    url: str
    root: Path
    db_url: str | None
    admin_token: str
    alice_token: str

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def accounts(self) -> Accounts:
        return Accounts(Dock(self.root, url=self.db_url).engine)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=120)

    def dock(self) -> Dock:
        """The server's dock, opened in the test process (another process, as the server sees it)."""
        return Dock(self.root, url=self.db_url)

    def snapshot(self) -> tuple:
        """What a refused request must leave as it was: the learnware ids, the dock's revision, the
        upload queue's rows and every file under the dock root (but the database and lock files)."""
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        from modelreuse.dock.store import current_revision
        from modelreuse.server.uploads import UploadRecord

        dock = self.dock()
        with Session(dock.engine) as session:
            revision = current_revision(session)
            uploads = session.scalar(select(func.count()).select_from(UploadRecord))
        ids = sorted(card["id"] for card in dock.list())
        dock.engine.dispose()
        files = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                       if p.is_file() and not p.name.startswith("dock.sqlite") and p.name != ".lock")
        return ids, revision, uploads, files

    def wait_for_upload(self, client: httpx.Client, upload_id: str, timeout_s: float = 240) -> dict:
        """Poll ``GET /uploads/{id}`` until it is ``verified`` or ``rejected``; its last status."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = client.get(f"/uploads/{upload_id}").json()
            if status["status"] in ("verified", "rejected"):
                return status
            time.sleep(0.2)
        pytest.fail(f"upload {upload_id} still {status['status']} after {timeout_s} s")


@contextmanager
def start_server(root: Path, db_url: str | None, *extra: str) -> Iterator[LiveServer]:
    """Create the accounts, start ``modelreuse serve`` on a free port, wait for ``/api/v1/health``,
    yield, then stop it (a RemoteDockError with the end of its log if it fails to start)."""
    accounts = Accounts(Dock(root, url=db_url).engine)
    accounts.create_user("admin", admin=True)
    accounts.create_user("alice")
    admin, alice = accounts.create_token("admin", ["admin"]), accounts.create_token("alice", ["read", "write"])
    log = root.parent / f"server-{root.parent.name}.log"
    with running_server(root, db_url, log, *extra, startup_timeout_s=STARTUP_TIMEOUT_S) as running:
        yield LiveServer(running.url, root, db_url, admin, alice)


@pytest.fixture(scope="module")
def module_server(request, tmp_path_factory) -> Iterator[Callable[[str | None], LiveServer]]:
    """A function: PostgreSQL cluster URL (None: SQLite) -> this module's server of that database kind,
    started on first use on a fresh dock (PostgreSQL: in a fresh database of the cluster); all are
    stopped when the module ends. A test module may set ``SERVER_ARGS`` (a list of extra
    ``modelreuse serve`` options, e.g. ``["--max-upload-mb", "1"]``) for its servers."""
    servers: dict[str, LiveServer] = {}
    extra = getattr(request.module, "SERVER_ARGS", ())
    with ExitStack() as stack:
        def server(postgres_url: str | None) -> LiveServer:
            kind = "sqlite" if postgres_url is None else "postgresql"
            if kind not in servers:
                root = tmp_path_factory.mktemp(f"server-{kind}") / "dock"
                db_url = fresh_database(postgres_url, root.parent.name)
                servers[kind] = stack.enter_context(start_server(root, db_url, *extra))
            return servers[kind]

        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(request, module_server) -> LiveServer:
    """This module's server on each database kind (the SQLite one is also ``sqlite_server``)."""
    return module_server(request.getfixturevalue("postgres_url") if request.param == "postgresql" else None)


@pytest.fixture(scope="module")
def sqlite_server(module_server) -> LiveServer:
    """This module's SQLite server, for tests where the database kind does not matter."""
    return module_server(None)


@pytest.fixture(scope="session")
def ridge_zips(tmp_path_factory, station_rows) -> dict[float, bytes]:  # noqa: F811
    """Zips of three real Ridge learnwares (``Learnware.to_zip``), by alpha (1, 2 and 3)."""
    folder = tmp_path_factory.mktemp("ridge-zips")
    return {alpha: build_ridge(folder / f"ridge{alpha:g}", station_rows, alpha=alpha)
            .to_zip(folder / f"ridge{alpha:g}.zip").read_bytes() for alpha in (1.0, 2.0, 3.0)}

"""A throwaway PostgreSQL cluster on a Unix socket, for tests and benchmarks of the dock.

Needs the server binaries of Debian's ``postgresql`` package (``initdb``, ``pg_ctl``). As root the
cluster runs as the ``postgres`` user. Nothing listens on TCP; the cluster is deleted on exit.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_binary(name: str) -> str | None:
    """Path of a PostgreSQL server binary, or None when the server is not installed."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def postgres_available() -> bool:
    return bool(server_binary("initdb") and server_binary("pg_ctl"))


@contextmanager
def throwaway_postgres(max_connections: int = 100) -> Iterator[str]:
    """Start a new cluster; yield its SQLAlchemy URL (psycopg driver); stop and delete it after."""
    initdb, pg_ctl = server_binary("initdb"), server_binary("pg_ctl")
    if not (initdb and pg_ctl):
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="mr-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    options = f"-p {port} -k {sock} -c listen_addresses='' -c max_connections={max_connections}"
    try:
        subprocess.run(as_user + [initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True,
                       capture_output=True)
        subprocess.run(as_user + [pg_ctl, "-D", str(data), "-w", "-l", str(base / "log"), "-o", options, "start"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run(as_user + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(server_url: str | None, name: str) -> str | None:
    """A new, empty database named after ``name`` (letters and digits kept, the rest ``_``) on the
    server of ``server_url``, so docks in one cluster never share tables; its URL. None for SQLite
    (``server_url`` None: the dock root's own file)."""
    if server_url is None:
        return None
    from sqlalchemy import create_engine, text

    database = "".join(ch if ch.isalnum() else "_" for ch in name).lower()
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    return server_url.replace("/postgres?", f"/{database}?")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

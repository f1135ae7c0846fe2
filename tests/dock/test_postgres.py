"""The dock against a real PostgreSQL server (a throwaway cluster started for this module).

Needs PostgreSQL's server binaries (Debian package ``postgresql``; `.ci/run` installs it). Locally
the test is skipped when they are missing, unless MODELREUSE_REQUIRE_POSTGRES=1 (set by CI).
"""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from modelreuse.dock import Dock
from modelreuse.errors import DuplicateLearnwareError
from modelreuse.task import Task
from tests.conftest import user_half


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("MODELREUSE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL server binaries not found (apt-get install postgresql)")
        pytest.skip("PostgreSQL server binaries not installed")
    base = Path(tempfile.mkdtemp(prefix="mr-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    subprocess.run(as_user + [initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True, capture_output=True)
    subprocess.run(as_user + [pg_ctl, "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                              f"-p {port} -k {sock} -c listen_addresses=''", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run(as_user + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_dock_on_postgresql(postgres_url, site_learnwares, beijing, tmp_path):
    dock = Dock(tmp_path / "artifacts", url=postgres_url)
    ids = {s: dock.submit(lw, validate=False) for s, lw in site_learnwares.items()}
    assert {c["name"] for c in dock.list()} == set(ids)
    with pytest.raises(DuplicateLearnwareError):
        dock.submit(site_learnwares["Wanliu"], validate=False)
    X, _ = user_half(beijing, "Huairou")
    assert dock.search(Task(X=X, task_type="regression"), k=1)[0].learnware_id == ids["Huairou"]
    dock.remove(ids["Huairou"])
    # a second client on the same database sees the same state
    other = Dock(tmp_path / "artifacts", url=postgres_url)
    assert len(other) == len(ids) - 1

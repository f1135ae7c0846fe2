"""Shared helpers of the adversarial suite: a valid package built from real data, which each test
copies and then breaks; a canary file that hostile payloads try to write; snapshots of a dock and
of the temporary directory, so a test can assert that a rejected submit changed nothing.

A payload "runs" when it writes the canary. Every test that feeds a payload asserts the canary is
absent afterwards, in the submitting process and (where a learnware could be stored) in a second
"user" process that loads it, as another user of the dock would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from typer.testing import CliRunner

from modelreuse.learnware import Learnware
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import list_tables, read_table
from modelreuse.specs.rkme import RKMESpec
from tests.conftest import BEIJING

ROWS = 300


@dataclass
class Fitted:
    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    regressor: Ridge
    classifier: LogisticRegression
    rkme: RKMESpec


@pytest.fixture(scope="session")
def fitted(data_root) -> Fitted:
    """A Ridge and a logistic regression fitted on 300 real rows of one Beijing station."""
    table = read_table(list_tables(BEIJING)[0]).iloc[:2000].sample(ROWS, random_state=0).reset_index(drop=True)
    table = table[np.isfinite(table["PM2.5"].to_numpy(dtype=float))]
    enc = TableSchema.infer([table], target="PM2.5")
    X = np.nan_to_num(enc.encode(table))
    y = table["PM2.5"].to_numpy(dtype=float)
    return Fitted(X, y, list(enc.feature_names), Ridge().fit(X, y),
                  LogisticRegression(max_iter=500).fit(X, (y > np.median(y)).astype(int)),
                  RKMESpec.fit(X, m=10))


@pytest.fixture
def valid_package(fitted, tmp_path) -> Path:
    """A fresh, valid regression learnware directory; tests may modify it freely."""
    Learnware.build(tmp_path / "pkg", fitted.regressor, fitted.rkme, name="valid", task_type="regression",
                    target="PM2.5", feature_names=fitted.feature_names, description="a valid package")
    return tmp_path / "pkg"


@pytest.fixture
def canary(tmp_path_factory) -> Path:
    """A path hostile payloads try to create; it must never exist."""
    path = tmp_path_factory.mktemp("canary") / "pwned"
    yield path
    assert not path.exists(), f"a payload ran: {path} was written"


def rewrite_manifest(package: Path, **changes) -> None:
    """Change top-level manifest fields of a directory package in place."""
    manifest = json.loads((package / "manifest.json").read_text())
    manifest.update(changes)
    (package / "manifest.json").write_text(json.dumps(manifest))


def dock_state(dock) -> tuple:
    """Rows (ids), revision and every file under the dock root except the database."""
    from sqlalchemy.orm import Session

    from modelreuse.dock.store import current_revision

    with Session(dock.engine) as session:
        revision = current_revision(session)
    files = sorted(p.relative_to(dock.root).as_posix() for p in dock.root.rglob("*")
                   if p.is_file() and not p.name.startswith("dock.sqlite") and p.name != ".lock")
    return sorted(c["id"] for c in dock.list()), revision, files


@pytest.fixture
def private_tempdir(tmp_path_factory, monkeypatch) -> Path:
    """A ``tempfile`` directory of the test's own, so :func:`temp_entries` sees only what the code
    under test leaves there, never the files of other processes sharing the machine's /tmp (tests
    that call :func:`temp_entries` use it)."""
    folder = tmp_path_factory.mktemp("systmp")
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def temp_entries() -> set[str]:
    """Names directly under the temporary directory (the test's own with :func:`private_tempdir`)."""
    return set(os.listdir(tempfile.gettempdir()))


def cli(*args: str):
    """Run the CLI in-process; returns the click Result (exit_code, output)."""
    from modelreuse.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def assert_cli_rejects(result, error_type: str) -> None:
    """The CLI's contract for bad input: one line ``error: <Type>: ...`` and exit code 2."""
    assert result.exit_code == 2, result.output
    assert f"error: {error_type}:" in result.output, result.output


def load_in_user_process(dock_root: Path, learnware_id: str, trust: bool = False) -> dict:
    """Load a stored learnware's model in a fresh interpreter, as another user would; returns
    ``{"ok": bool, "error_type": str}``."""
    code = (
        "import json, sys\n"
        "from modelreuse.dock import Dock\n"
        "try:\n"
        f"    Dock({str(dock_root)!r}).load_model({learnware_id!r}, trust={trust!r})\n"
        "    print(json.dumps({'ok': True, 'error_type': ''}))\n"
        "except Exception as exc:\n"
        "    print(json.dumps({'ok': False, 'error_type': type(exc).__name__}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def copy_package(package: Path, dest: Path) -> Path:
    shutil.copytree(package, dest, symlinks=True)
    return dest

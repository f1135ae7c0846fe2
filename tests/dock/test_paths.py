"""Relative and absolute paths, for package directories and zips, from the API and the CLI, with a
real sandboxed validation (issue 15: the validation process runs in another directory), and the
dock root checks of ``Dock(root, create=...)``. Every test runs from its own temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.dock import Dock
from modelreuse.errors import DockNotFoundError
from tests.dock.conftest import build_ridge

runner = CliRunner()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _package(rows, kind: str, absolute: bool, cwd) -> str:
    """Build ``out/x`` from the current directory; return the directory or its zip, as given."""
    lw = build_ridge("out/x", rows)
    if kind == "zip":
        lw.to_zip("out/x.zip")
        shutil.rmtree("out/x")  # only the zip is left to read
    path = "out/x" if kind == "dir" else "out/x.zip"
    return str(cwd / path) if absolute else path


def _assert_stored(dock: Dock, learnware_id: str, rows) -> None:
    """The stored learnware is the one built: same name, and its model predicts the real rows."""
    lw = dock.get(learnware_id)
    assert lw.manifest.name == "Wanliu ridge 1"
    X, y = rows
    pred = lw.load_model().predict(X)
    assert pred.shape == y.shape and np.corrcoef(pred, y)[0, 1] > 0.3


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
@pytest.mark.parametrize("kind", ["dir", "zip"])
def test_api_submit(station_rows, in_tmp, kind, absolute):
    package = _package(station_rows, kind, absolute, in_tmp)
    dock = Dock(in_tmp / "rel" / "dock" if absolute else "rel/dock")
    assert dock.root == in_tmp / "rel" / "dock" and dock.root.is_absolute()
    learnware_id = dock.submit(package)
    assert dock.list()[0]["id"] == learnware_id
    _assert_stored(dock, learnware_id, station_rows)


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
@pytest.mark.parametrize("kind", ["dir", "zip"])
def test_cli_submit(station_rows, in_tmp, kind, absolute):
    """``modelreuse dock init`` then ``dock submit PACKAGE``: relative paths use the default dock
    ``modelreuse-dock`` of the current directory, absolute ones name it."""
    package = _package(station_rows, kind, absolute, in_tmp)
    dock_args = ["--dock", str(in_tmp / "modelreuse-dock")] if absolute else []
    init = runner.invoke(app, ["dock", "init", *dock_args[1:]])
    assert init.exit_code == 0, init.output
    result = runner.invoke(app, ["dock", "submit", package, *dock_args, "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["package"] == package
    _assert_stored(Dock(in_tmp / "modelreuse-dock", create=False), row["id"], station_rows)


def test_installed_cli_with_relative_paths(station_rows, in_tmp):
    """The issue's report as a user runs it: the entry point, the default dock, ``out/x``."""
    build_ridge("out/x", station_rows)
    script = shutil.which("modelreuse", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "modelreuse.cli"]
    for args in (["dock", "init"], ["dock", "submit", "out/x"]):
        done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=300, cwd=in_tmp)
        assert done.returncode == 0, done.stderr
    assert len(Dock("modelreuse-dock", create=False)) == 1


def test_root_is_resolved_once(station_rows, in_tmp, monkeypatch):
    """A dock opened with a relative root keeps working (and writing there) after a chdir."""
    dock = Dock("rel/dock")
    package = build_ridge("out/x", station_rows).root.resolve()
    elsewhere = in_tmp / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    learnware_id = dock.submit(package)
    assert (in_tmp / "rel" / "dock" / "unpacked" / learnware_id / "manifest.json").is_file()
    assert sorted(p.name for p in elsewhere.iterdir()) == []
    assert dock.url == f"sqlite:///{in_tmp / 'rel' / 'dock' / 'dock.sqlite'}"


# ---------------------------------------------------------------- Dock(root, create=...)
def test_missing_root_with_create_false(in_tmp):
    with pytest.raises(DockNotFoundError, match="does not exist.*modelreuse dock init.*create=True"):
        Dock("nowhere", create=False)
    assert not (in_tmp / "nowhere").exists()


def test_folder_without_a_dock_with_create_false(in_tmp):
    (in_tmp / "empty").mkdir()
    with pytest.raises(DockNotFoundError, match="no dock.sqlite"):
        Dock("empty", create=False)
    assert list((in_tmp / "empty").iterdir()) == []


@pytest.mark.parametrize("create", [True, False])
def test_root_that_is_a_file(in_tmp, create):
    (in_tmp / "a-file").write_text("not a dock")
    with pytest.raises(DockNotFoundError, match="is a file"):
        Dock("a-file", create=create)
    assert (in_tmp / "a-file").read_text() == "not a dock"


def test_create_false_opens_an_existing_dock(in_tmp):
    made = Dock("d")
    assert Dock("d", create=False).root == made.root == in_tmp / "d"
    assert len(Dock(in_tmp / "d", create=False)) == 0


@pytest.mark.parametrize("command", [["dock", "submit", "out/x"], ["dock", "list"]])
def test_cli_on_a_missing_dock_says_so_and_creates_nothing(station_rows, in_tmp, command):
    if "submit" in command:
        build_ridge("out/x", station_rows)
    before = sorted(p.relative_to(in_tmp) for p in in_tmp.rglob("*"))
    result = runner.invoke(app, [*command, "--dock", "no-such-dock"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "modelreuse dock init" in result.stderr, result.stderr
    assert sorted(p.relative_to(in_tmp) for p in in_tmp.rglob("*")) == before

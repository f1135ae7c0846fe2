"""The CLI's error boundary on the bad inputs of issue 14: each prints one line
``error: <Type>: <message>`` on stderr, nothing on stdout, no traceback, exits with code 2 and
creates nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from modelreuse.cli import app
from tests.conftest import BEIJING

runner = CliRunner()


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _rejects(args: list, error_type: str, root) -> str:
    """Run the CLI, assert the boundary's contract and that ``root`` is unchanged; return stderr."""
    before = _files(root)
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.stdout
    assert result.stderr.startswith(f"error: {error_type}: "), result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert _files(root) == before
    return result.stderr


@pytest.fixture
def dock_root(tmp_path):
    root = tmp_path / "dock"
    assert runner.invoke(app, ["dock", "init", str(root)]).exit_code == 0
    return root


@pytest.fixture
def station_csv(tmp_path):
    """One real Beijing station table (first rows), as a user's csv."""
    import pandas as pd

    table = pd.read_csv(sorted(BEIJING.glob("*.csv.gz"))[0], nrows=200)
    path = tmp_path / "station.csv"
    table.to_csv(path, index=False)
    return path


def test_search_with_missing_data_file(dock_root, tmp_path):
    message = _rejects(["dock", "search", "--dock", dock_root, "--data", tmp_path / "missing.csv"],
                       "FileNotFoundError", tmp_path)
    assert "missing.csv" in message


def test_search_on_a_missing_dock_creates_none(tmp_path):
    message = _rejects(["dock", "search", "--dock", tmp_path / "nodock", "-q", "air"], "DockNotFoundError", tmp_path)
    assert "modelreuse dock init" in message


def test_init_on_a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a dock")
    _rejects(["dock", "init", path], "DockNotFoundError", tmp_path)
    assert path.read_text() == "not a dock"


def test_init_under_a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a dock")
    _rejects(["dock", "init", path / "dock"], "NotADirectoryError", tmp_path)


def test_init_without_permission(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _rejects(["dock", "init", locked / "dock"], "PermissionError", tmp_path)


def test_unknown_search_method_lists_the_methods(dock_root, station_csv, tmp_path):
    message = _rejects(["dock", "search", "--dock", dock_root, "--data", station_csv, "--method", "bogus"],
                       "UnknownNameError", tmp_path)
    assert "'bogus'" in message and "statistical" in message and "semantic" in message


def test_drop_of_a_missing_column_names_the_columns(dock_root, station_csv, tmp_path):
    message = _rejects(["dock", "search", "--dock", dock_root, "--data", station_csv, "--drop", "nosuchcol"],
                       "SchemaError", tmp_path)
    assert "nosuchcol" in message and "PM2.5" in message


def test_routing_fit_with_missing_records(tmp_path):
    message = _rejects(["routing", "fit", "--records", tmp_path / "missing.parquet", "--out", tmp_path / "router"],
                       "RoutingDataError", tmp_path)
    assert "missing.parquet" in message


def test_recommend_train_with_missing_records(tmp_path):
    message = _rejects(["recommend", "train", "--records", tmp_path / "missing", "--out", tmp_path / "rec"],
                       "RecordsDataError", tmp_path)
    assert "missing" in message


def test_unknown_bench_choice(tmp_path):
    message = _rejects(["bench", "vlm", "--benchmark", "nope", "--data", tmp_path], "UnknownNameError", tmp_path)
    assert "lovm" in message and "swab" in message


def test_boundary_in_a_real_process(tmp_path):
    """The installed entry point, as a user runs it: one error line, exit 2, no traceback."""
    script = shutil.which("modelreuse", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "modelreuse.cli"]
    done = subprocess.run([*command, "routing", "fit", "--records", str(tmp_path / "missing.csv"),
                           "--out", str(tmp_path / "router")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.startswith("error: RoutingDataError: "), done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "router").exists()

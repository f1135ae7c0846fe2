"""Harness results are typed reports: ``to_dict()`` is what ``--json`` prints and ``--out`` writes,
``render()`` what a terminal shows."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from modelreuse.bench.report import DictReport
from modelreuse.cli import app
from tests.conftest import DATA

runner = CliRunner()


def _rendered(report) -> str:
    console = Console(record=True, width=200, file=io.StringIO())
    for renderable in report.render():
        console.print(renderable)
    return console.export_text()


def _methods_table(data: dict) -> list:
    table = Table("method", "score")
    for name, value in data["methods"].items():
        table.add_row(name, f"{value:.3f}")
    return [table]


def test_dict_report_writes_and_renders_its_dict(tmp_path):
    data = {"methods": {"a": 0.5, "b": 0.25}}
    report = DictReport(data, _methods_table)
    assert report.to_dict() is data
    assert json.loads(report.write(tmp_path / "sub" / "r.json").read_text()) == data
    [table] = report.render()
    assert table.row_count == 2 and "0.250" in _rendered(report)
    assert json.loads(_rendered(DictReport(data))) == data  # no view: the dict as JSON


def test_transfer_table_out_equals_json_and_renders(tmp_path):
    result = runner.invoke(app, ["bench", "transfer-table", "--data", str(DATA), "--out", str(tmp_path / "t.json"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads((tmp_path / "t.json").read_text())
    shown = runner.invoke(app, ["bench", "transfer-table", "--data", str(DATA)])
    assert shown.exit_code == 0 and "LogME" in shown.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(shown.stdout)


@pytest.mark.slow
def test_dock_races_report_counts_no_defects(tmp_path):
    from modelreuse.bench.dock_races import DockRacesReport

    result = runner.invoke(app, ["bench", "dock-races", "--data", str(DATA), "--work", str(tmp_path / "work"),
                                 "--no-postgres", "--submitters", "2", "--searchers", "1", "--rounds", "1",
                                 "--kill", "0", "--out", str(tmp_path / "r.json"), "--json"])
    assert result.exit_code == 0, result.output
    report = DockRacesReport(**json.loads(result.stdout))
    assert report.to_dict() == json.loads((tmp_path / "r.json").read_text())
    assert set(report.backends) == {"sqlite"} and len(report.backends["sqlite"]["storms"]) == 4
    defects = report.defects("sqlite")
    assert {"lost", "duplicated", "corrupt", "untyped", "kill_problems_after_repair"} <= set(defects)
    assert not any(defects.values()), defects
    text = _rendered(report)
    assert "sqlite" in text and "lost" in text

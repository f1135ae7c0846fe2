import json

import numpy as np
from typer.testing import CliRunner

from modelreuse.cli import app
from tests.conftest import user_half

runner = CliRunner()


def _ok(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_dock_lifecycle(site_learnwares, beijing, tmp_path):
    root = str(tmp_path / "dock")
    _ok(["dock", "init", root, "--json"])
    zpath = site_learnwares["Huairou"].to_zip(tmp_path / "h.zip")
    out = json.loads(_ok(["dock", "submit", str(zpath), str(site_learnwares["Wanliu"].root), "--dock", root, "--json"]))
    ids = {r["package"]: r["id"] for r in out}
    cards = json.loads(_ok(["dock", "list", "--dock", root, "--json"]))
    assert {c["name"] for c in cards} == {"Huairou", "Wanliu"}
    hid = ids[str(zpath)]
    assert json.loads(_ok(["dock", "show", hid, "--dock", root, "--json"]))["name"] == "Huairou"
    np.save(tmp_path / "task.npy", user_half(beijing, "Huairou")[0])
    ranking = json.loads(_ok(["dock", "search", "--dock", root, "--data", str(tmp_path / "task.npy"), "--json"]))
    assert ranking["entries"][0]["learnware_id"] == hid
    sem = json.loads(_ok(["dock", "search", "--dock", root, "-q", "Wanliu", "--json"]))
    assert sem["entries"][0]["name"] == "Wanliu"
    _ok(["dock", "remove", hid, "--dock", root, "--json"])
    assert len(json.loads(_ok(["dock", "list", "--dock", root, "--json"]))) == 1


def test_errors_exit_2_with_message(tmp_path):
    root = str(tmp_path / "dock")
    _ok(["dock", "init", root])
    bad = tmp_path / "notalearnware"
    bad.mkdir()
    result = runner.invoke(app, ["dock", "submit", str(bad), "--dock", root])
    assert result.exit_code == 2 and "ManifestError" in result.output
    result = runner.invoke(app, ["dock", "show", "nope", "--dock", root])
    assert result.exit_code == 2 and "LearnwareNotFoundError" in result.output
    result = runner.invoke(app, ["dock", "list", "--dock", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no dock" in result.output

"""Every command of the CLI takes ``--json``; the commands that used to print only text now print
clean JSON on stdout (progress and logs go to stderr)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from modelreuse.cli import app
from tests.conftest import DATA

runner = CliRunner()


def _commands(group, path: tuple[str, ...] = ()):
    """(path, command) for every command a user can run, groups that run themselves included."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group
            if command.invoke_without_command:
                yield (*path, name), command
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(_commands(typer.main.get_command(app)))


def test_the_walk_finds_every_sub_app():
    assert {("dock", "search"), ("routing", "fit"), ("recommend",), ("recommend", "train"), ("records", "import"),
            ("routing", "import"), ("route",), ("bench", "market"), ("transfer", "score")} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_takes_json(path):
    assert any("--json" in param.opts for param in COMMANDS[path].params), f"modelreuse {' '.join(path)} lacks --json"


@pytest.mark.slow
def test_records_import_then_recommend_train_print_clean_json(tmp_path):
    from modelreuse.selection.learned.modellens import ModelLens

    imported = runner.invoke(app, ["records", "import", "--data", str(DATA), "--only", "torchvision",
                                   "--out", str(tmp_path / "lb"), "--format", "csv", "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout)
    assert report["out"] == str(tmp_path / "lb") and report["per_source"]["torchvision"]["records"] > 0
    trained = runner.invoke(app, ["recommend", "train", "--records", str(tmp_path / "lb"), "--out", str(tmp_path / "rec"),
                                  "--steps", "20", "--members", "1", "--cache", str(tmp_path / "cache"), "--json"])
    assert trained.exit_code == 0, trained.output
    saved = json.loads(trained.stdout)
    loaded = ModelLens.load(tmp_path / "rec", tmp_path / "cache")
    assert saved["out"] == str(tmp_path / "rec")
    assert (saved["models"], saved["datasets"]) == (len(loaded.models_), len(loaded.datasets_))
    assert 0 < saved["models"] <= report["models"]

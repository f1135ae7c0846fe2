"""Choices come from the registries: an option's help lists exactly the registry's names, unknown
names are typed errors, and ``modelreuse --help`` imports none of the library behind the commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.cli._common import registry

runner = CliRunner()

REGISTRY_OPTIONS = [(("dock", "search"), "selectors"), (("transfer", "score"), "metrics"), (("routing", "fit"), "routers"),
                    (("bench", "route"), "routers"), (("bench", "recommend"), "recommenders")]


def listed_names(help_text: str) -> list[str]:
    """The names after 'one of:' in a rendered help (box drawing and line wrapping removed)."""
    flat = re.sub(r"[│\s]+", " ", help_text)
    return re.search(r"one of: ([^.]*)\.", flat).group(1).split(", ")


@pytest.mark.parametrize(("command", "key"), REGISTRY_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_help_lists_exactly_the_registry(command, key):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert listed_names(result.stdout) == registry(key).names()


def test_unknown_selector_is_refused_before_the_dock_is_touched(tmp_path):
    result = runner.invoke(app, ["dock", "search", "--dock", str(tmp_path / "nodock"), "--method", "bogus", "-q", "x"])
    assert result.exit_code == 2 and result.stderr.startswith("error: UnknownNameError: "), result.output
    assert all(name in result.stderr for name in registry("selectors").names())
    assert not (tmp_path / "nodock").exists()


def test_unknown_router_is_refused_before_any_work(tmp_path):
    result = runner.invoke(app, ["routing", "fit", "--records", str(tmp_path / "missing.parquet"), "--router", "bogus",
                                 "--out", str(tmp_path / "router")])
    assert result.exit_code == 2 and result.stderr.startswith("error: UnknownNameError: "), result.output
    assert all(name in result.stderr for name in registry("routers").names())


def test_top_level_help_loads_no_library():
    code = ("import sys, json\n"
            "from typer.testing import CliRunner\n"
            "from modelreuse.cli import app\n"
            "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                       timeout=120).stdout)
    heavy = [m for m in loaded if m.split(".")[0] in ("numpy", "pandas", "sklearn", "torch", "sqlalchemy", "scipy")
             or m.startswith(("modelreuse.dock", "modelreuse.selection", "modelreuse.routing", "modelreuse.reuse",
                              "modelreuse.bench"))]
    assert heavy == []

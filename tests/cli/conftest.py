"""Helpers for the CLI tests."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def cli_json(*args) -> dict:
    """Run ``modelreuse ARGS --json`` in-process; assert exit code 0 and return the parsed JSON."""
    from modelreuse.cli import app

    result = CliRunner().invoke(app, [*map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)

"""``modelreuse transfer ...``: transferability metrics on stored problems."""

from __future__ import annotations

from pathlib import Path

import typer

from modelreuse.cli._common import JsonOpt, RegistryHelp, console, emit, fail

app = typer.Typer(help="Transferability metrics on stored problems.", no_args_is_help=True)


@app.command("score", cls=RegistryHelp)
def transfer_score(problem: Path = typer.Option(..., help="A .npz with F (features), y (labels), P (source-class "
                                                        "probabilities) and/or t (regression targets)."),
                   metric: list[str] | None = typer.Option(None, help="Metric (repeatable), one of: {metrics}. "
                                                                      "Default: all that the problem's arrays allow."),
                   as_json: bool = JsonOpt) -> None:
    """Compute transferability metrics on a stored problem; prints {metric_name: value}."""
    import numpy as np

    from modelreuse.selection.transferability import score_problem

    if not problem.is_file():
        raise FileNotFoundError(f"no problem file at {problem}")
    with np.load(problem) as stored:
        arrays = {k: stored[k] for k in stored.files if k in ("F", "y", "P", "t")}
    try:
        values = score_problem(arrays, metric or None)
    except KeyError as exc:  # a metric the problem's arrays cannot feed
        fail(exc)
    emit(values, as_json, _values_table)


def _values_table(values: dict) -> None:
    from rich.table import Table

    table = Table("metric", "value")
    for name, value in values.items():
        table.add_row(name, ", ".join(f"{x:.10g}" for x in value) if isinstance(value, list) else f"{value:.10g}")
    console.print(table)

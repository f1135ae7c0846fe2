"""``modelreuse records ...``: leaderboard records (model, dataset, metric, score) for recommenders."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from modelreuse.cli._common import DataOpt, JsonOpt, console, data_root, emit, plain, progress

app = typer.Typer(help="Leaderboard records (model, dataset, metric, score) for recommenders.", no_args_is_help=True)


@app.command("import")
def records_import(data: Path | None = DataOpt,
                   out: Path = typer.Option(Path("leaderboard-records"), help="Folder for records/models/datasets tables."),
                   only: list[str] | None = typer.Option(None, help="Import only these sources."),
                   fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
                   as_json: bool = JsonOpt) -> None:
    """Convert every staged leaderboard to the leaderboard-records format and report what was skipped."""
    from modelreuse.datasets.importers.leaderboard import import_all

    result = import_all(data_root(data), only, progress=progress)
    result.write(out, fmt)
    emit({**result.report, "out": str(out)}, as_json, _import_table)


def _import_table(report: dict) -> None:
    from rich.table import Table

    table = Table("source", "records", "models", "datasets", "groups", "skipped / merged")
    for name, rep in report["per_source"].items():
        notes = {k: v for k, v in rep.items() if k not in ("records", "models", "datasets", "ranking_groups")}
        table.add_row(name, str(rep["records"]), str(rep["models"]), str(rep["datasets"]),
                      str(rep["ranking_groups"]), json.dumps(notes))
    console.print(table)
    console.print({k: v for k, v in report.items() if k not in ("per_source", "out")})
    console.print(plain(f"wrote {report['out']}"))

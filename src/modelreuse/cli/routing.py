"""``modelreuse routing ...`` and ``modelreuse route``: routing records, routers, routing queries."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from modelreuse.cli._common import (
    DataOpt,
    JsonOpt,
    RegistryHelp,
    cache_dir,
    cache_option,
    console,
    data_root,
    emit,
    plain,
    progress,
    registry,
)

app = typer.Typer(help="Routing records and routers (instance-level LLM selection).", no_args_is_help=True)


@app.command("import")
def routing_import(data: Path | None = DataOpt,
                   out: Path = typer.Option(Path("routing-records"), help="Folder for <collection>.parquet files."),
                   only: list[str] | None = typer.Option(None, help="Import only these collections."),
                   as_json: bool = JsonOpt) -> None:
    """Convert every staged routing source to the routing-records format."""
    from modelreuse.datasets.importers.routing import IMPORTERS, import_all
    from modelreuse.errors import UnknownNameError

    unknown = sorted(set(only or []) - set(IMPORTERS))
    if unknown:
        raise UnknownNameError(f"unknown collection(s) {unknown}; available: {', '.join(sorted(IMPORTERS))}")
    emit(import_all(data_root(data), out, only, progress=progress), as_json, _imports_table)


@app.command("fit", cls=RegistryHelp)
def routing_fit(records: Path = typer.Option(..., help="Routing records (.parquet/.csv)."),
                router: str = typer.Option("mlp", help="Router, one of: {routers}."),
                split: str = typer.Option("train", help="Rows to fit on."),
                out: Path = typer.Option(..., help="Folder to save the router in."),
                cache: Path | None = cache_option("routing", "Query-embedding cache"),
                as_json: bool = JsonOpt) -> None:
    """Fit a router on routing records and save it (JSON + arrays, no pickle)."""
    from modelreuse.records.routing import read_records
    from modelreuse.routing.router import Router

    registry("routers").entry(router)  # an unknown name raises UnknownNameError before any work
    fitted = Router(router, cache=cache_dir(cache, "routing")).fit(read_records(records).split(split))
    fitted.save(out)
    emit({"router": router, "models": len(fitted.models_), "out": str(out)}, as_json,
         lambda r: console.print(plain(f"saved {r['router']} router over {r['models']} models to {r['out']}")))


def route(query: list[str] = typer.Argument(..., help="Query text(s)."),
          router: Path = typer.Option(..., help="A folder written by `modelreuse routing fit`."),
          task: str | None = typer.Option(None, help="Task label of the queries (task-aware routers)."),
          budget: float | None = typer.Option(None, help="Mean USD per query the choices may cost."),
          lam: float | None = typer.Option(None, help="Willingness to pay: maximise lam * score - cost."),
          as_json: bool = JsonOpt) -> None:
    """Print the model a saved router chooses for each query."""
    from modelreuse.routing.router import Router

    choices = Router.load(router).route(query, tasks=[task or ""] * len(query), budget=budget, lam=lam)
    rows = [{"query": q, "model": c.model, "predicted_score": c.predicted_score, "cost": c.cost}
            for q, c in zip(query, choices)]
    emit(rows, as_json, _choices_lines)


def _choices_lines(rows: list[dict]) -> None:
    for x in rows:
        typer.echo(f"{plain(x['model']).plain}\t(predicted {x['predicted_score']:.3f}, cost {x['cost']:.3g} USD)")


def _imports_table(reports: dict) -> None:
    from rich.table import Table

    table = Table("collection", "rows", "models", "notes")
    for name, rep in reports.items():
        notes = {k: v for k, v in rep.items() if k not in ("rows", "models", "path")}
        table.add_row(name, str(rep.get("rows", "-")), str(rep.get("models", "-")), json.dumps(notes))
    console.print(table)

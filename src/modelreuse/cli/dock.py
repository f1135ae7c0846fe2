"""``modelreuse dock ...``: create, fill, list, check and search a dock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from modelreuse.cli._common import (
    DockOpt,
    JsonOpt,
    RegistryHelp,
    TokenOpt,
    cache_dir,
    cache_option,
    console,
    emit,
    err_console,
    open_dock,
    plain,
    read_table_without,
    registry,
)

app = typer.Typer(help="Manage a dock (learnware market).", no_args_is_help=True)


@app.command("init")
def dock_init(root: str = typer.Argument("modelreuse-dock", help="Dock folder (relative: in the current "
                                                                         "directory)."),
              as_json: bool = JsonOpt) -> None:
    """Create an empty dock (SQLite + artifact folder) at ROOT, or open the one there; shows its absolute path."""
    dock = _local(root, must_exist=False)
    emit({"root": str(dock.root), "url": dock.url, "n_learnwares": len(dock)}, as_json,
         lambda d: console.print(plain(f"dock ready at {d['root']} ({d['n_learnwares']} learnwares)")))


@app.command("submit")
def dock_submit(packages: list[Path] = typer.Argument(..., help="Learnware directories or zips (relative paths: "
                                                                 "from the current directory)."),
                dock: str = DockOpt, trust: bool = typer.Option(False, help="Allow pickle/joblib artifacts."),
                timeout: float = typer.Option(120.0, help="Validation time limit per learnware (s), after start-up."),
                memory: str = typer.Option("8GiB", help="Address-space limit of the validation process (bytes or e.g. 2GiB)."),
                cpu_seconds: int = typer.Option(120, help="CPU-time limit of the validation process (s)."),
                token: str | None = TokenOpt, as_json: bool = JsonOpt) -> None:
    """Validate learnwares in a sandboxed process and add them to the dock (a dock server validates
    uploads with its own limits)."""
    from modelreuse.dock.remote import is_url
    from modelreuse.dock.validation import ValidationLimits, parse_size

    d = open_dock(dock, token=token)
    limits = ValidationLimits(timeout_s=timeout, memory_bytes=parse_size(memory), cpu_s=cpu_seconds)
    options = {} if is_url(dock) else {"trust": trust, "limits": limits}
    ids = []
    for p in packages:
        with err_console.status(f"validating {p}"):
            ids.append({"package": str(p), "id": d.submit(p, **options)})
    emit(ids, as_json, lambda rows: [console.print(plain(f"submitted {r['package']} as {r['id']}")) for r in rows])


@app.command("list")
def dock_list(dock: str = DockOpt, task_type: str | None = None, modality: str | None = None,
              tag: str | None = None, token: str | None = TokenOpt, as_json: bool = JsonOpt) -> None:
    """List learnwares, optionally filtered on card fields."""
    emit(open_dock(dock, token=token).list(task_type=task_type, modality=modality, tag=tag), as_json, _cards_table)


@app.command("show")
def dock_show(learnware_id: str, dock: str = DockOpt, token: str | None = TokenOpt, as_json: bool = JsonOpt) -> None:
    """Show one learnware's card and manifest."""
    emit(open_dock(dock, token=token).card(learnware_id), as_json, lambda c: console.print_json(json.dumps(c, default=str)))


@app.command("remove")
def dock_remove(learnware_id: str, dock: str = DockOpt, token: str | None = TokenOpt, as_json: bool = JsonOpt) -> None:
    """Delete a learnware and its files."""
    open_dock(dock, token=token).remove(learnware_id)
    emit({"removed": learnware_id}, as_json, lambda d: console.print(plain(f"removed {d['removed']}")))


@app.command("check")
def dock_check(dock: str = DockOpt, repair: bool = typer.Option(False, help="Delete what a crash left and "
                                                                 "rows whose files are gone; re-extract caches."),
               as_json: bool = JsonOpt) -> None:
    """Compare the dock's rows with its files; exit code 1 when problems remain (not repaired)."""
    report = _local(dock).check(repair=repair)
    emit(report.to_dict(), as_json, _check_table)
    if not report.ok and not repair:
        raise typer.Exit(code=1)


@app.command("search", cls=RegistryHelp)
def dock_search(dock: str = DockOpt,
                query: str | None = typer.Option(None, "--query", "-q", help="Text for the text selectors."),
                data: Path | None = typer.Option(None, help="Table of the task's rows (csv/tsv/parquet) or .npy."),
                spec: Path | None = typer.Option(None, help="A task RKME spec (.npz) built elsewhere."),
                method: str | None = typer.Option(None, help="Selector, one of: {selectors}. Default: semantic with "
                                                             "--query alone, else statistical."),
                drop: list[str] = typer.Option([], help="Columns of --data to leave out (e.g. a label the learnwares' "
                                                        "table schemas do not list as ignored)."),
                task_type: str | None = None, k: int = 10, token: str | None = TokenOpt,
                as_json: bool = JsonOpt) -> None:
    """Search by card text (--query) or by the task's distribution (--data or --spec); with a dock
    server in --dock only the task's spec is sent, never the rows."""
    method = method or ("semantic" if query and data is None and spec is None else "statistical")
    compares_rows = registry("selectors").metadata(method)["feature_space"]  # unknown: UnknownNameError
    d = open_dock(dock, token=token)
    filters = {"task_type": task_type} if task_type else {}
    task = _search_task(data, spec, drop) if compares_rows else (query or "")
    emit(d.search(task, method=method, k=k, **filters).to_dict(), as_json, _ranking_table)


@app.command("recommend")
def dock_recommend(dataset_description: str = typer.Argument(..., help="What your dataset is about."),
                   dock: str = DockOpt,
                   recommender: Path = typer.Option(Path("modelreuse-recommender"), help="Folder from `recommend train` "
                                                    "(with a dock server in --dock: the name of one it keeps)."),
                   task: str = typer.Option("", help="Task type, e.g. Retrieval or 'zero-shot classification'."),
                   metric: str = typer.Option("", help="Metric name, e.g. ndcg_at_10 or rmse."),
                   task_type: str | None = typer.Option(None, help="Only learnwares with this card task_type."),
                   k: int = 10, cache: Path | None = cache_option("recommend", "Description-embedding cache"),
                   token: str | None = TokenOpt, as_json: bool = JsonOpt) -> None:
    """Rank the dock's learnwares for a dataset described in words, with a trained recommender."""
    from modelreuse.dock.remote import is_url
    from modelreuse.selection.learned.modellens import ModelLens

    d = open_dock(dock, token=token)
    filters = {"task_type": task_type} if task_type else {}
    lens = str(recommender) if is_url(dock) else ModelLens.load(recommender, cache_dir(cache, "recommend"))
    ranking = d.recommend(dataset_description, lens, task=task, metric=metric, k=k, **filters)
    emit(ranking.to_dict(), as_json, _ranking_table)


@app.command("records")
def dock_records(dock: str = DockOpt, out: Path = typer.Option(..., help="Folder to write the record set to."),
                 fmt: str = typer.Option("parquet", "--format", help="parquet | csv"), as_json: bool = JsonOpt) -> None:
    """Export the leaderboard records of the dock's learnwares (their records specs) as a record set,
    ready for `modelreuse recommend train --records OUT`."""
    records = _local(dock).leaderboard()
    records.write(out, fmt)
    emit({"out": str(out), **records.report}, as_json,
         lambda r: console.print(plain(f"wrote {r['records']} records of {r['models']} models to {r['out']}")))


# ---------------------------------------------------------------------- helpers
def _local(dock: str, must_exist: bool = True):
    """The local dock at ``dock``; a dock server's URL is a :class:`RemoteDockError` (this command
    works on the dock's files: run it on the server's machine, on its folder)."""
    from modelreuse.dock.remote import is_url
    from modelreuse.errors import RemoteDockError

    if is_url(dock):
        raise RemoteDockError(f"this command needs the dock's folder, not a dock server ({dock}); run it on the "
                              "server's machine with --dock <its dock folder>")
    return open_dock(dock, must_exist=must_exist)


def _search_task(data: Path | None, spec: Path | None, drop: list[str]):
    """What a distribution search compares: a stored spec alone (ranking without p-values), or the
    user's rows, which stay local (spec + calibration): a table as it is (:meth:`Dock.search`
    matches it to the dock's table schemas by column name and encodes it as ``Client.fit`` does),
    or a Task of a float matrix."""
    from modelreuse.specs.rkme import RKMESpec
    from modelreuse.task import Task

    if spec is not None:
        return RKMESpec.load(spec)
    if data is None:
        raise typer.BadParameter("give --query, --data or --spec")
    rows = _read_matrix(data, drop)
    return rows if hasattr(rows, "columns") else Task(X=rows)


def _read_matrix(path: Path, drop: list[str]) -> Any:
    """Rows of a .npy file (a float matrix), or a csv/tsv/parquet table without the ``drop`` columns."""
    import numpy as np

    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    return read_table_without(path, drop)


def _cards_table(cards: list[dict]) -> None:
    from rich.table import Table

    table = Table("id", "name", "task", "modality", "features", "tags")
    for c in cards:
        table.add_row(*map(plain, (c["id"], c["name"], c["task_type"], c["modality"], c["n_features"],
                                   ",".join(c["tags"]))))
    console.print(table)


def _check_table(r: dict) -> None:
    state = "repaired" if r["repaired"] else "ok" if r["ok"] else "problems found"
    console.print(plain(f"{r['rows']} learnwares; {r['problems']} problem(s): {state}"))
    for key, items in r.items():
        if isinstance(items, list) and items:
            console.print(plain(f"  {key.replace('_', ' ')} ({len(items)}): {', '.join(items[:10])}"))


def _ranking_table(r: dict) -> None:
    from rich.table import Table

    if r["details"].get("nothing_fits"):
        console.print(f"[bold]nothing fits[/bold]: every candidate has p < {r['details']['alpha']}; closest:")
    table = Table("rank", "id", "name", "score", "reason")
    for i, e in enumerate(r["entries"], 1):
        table.add_row(*map(plain, (i, e["learnware_id"], e["name"], f"{e['score']:.4g}", e["reason"])))
    console.print(table)

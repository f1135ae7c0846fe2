"""Command line: ``modelreuse dock ...``, ``modelreuse bench market``.

Every command takes ``--json`` for scripts; long work shows progress on stderr. Errors from
modelreuse are printed as one line (``error: <type>: <message>``) with exit code 2.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from modelreuse._archive import CONTROL_CATEGORIES, find_control_character
from modelreuse.config import default_data_root
from modelreuse.errors import ModelReuseError


class _ErrorBoundary(TyperGroup):
    """The one place where errors become CLI output: every error modelreuse raises on bad input, and
    the file errors of bad paths, print ``error: <Type>: <message>`` on stderr and exit with code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            _fail(exc)


USER_ERRORS = (ModelReuseError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)
app = typer.Typer(help="modelreuse: find trained models that fit your task and reuse them.", no_args_is_help=True,
                  cls=_ErrorBoundary)
dock_app = typer.Typer(help="Manage a dock (learnware market).", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print JSON.", no_args_is_help=True)
app.add_typer(dock_app, name="dock")
transfer_app = typer.Typer(help="Transferability metrics on stored problems.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(transfer_app, name="transfer")
routing_app = typer.Typer(help="Routing records and routers (instance-level LLM selection).", no_args_is_help=True)
app.add_typer(routing_app, name="routing")
records_app = typer.Typer(help="Leaderboard records (model, dataset, metric, score) for recommenders.", no_args_is_help=True)
app.add_typer(records_app, name="records")
recommend_app = typer.Typer(help="Recommend models for a dataset from leaderboard records (ModelLens).")
app.add_typer(recommend_app, name="recommend")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
DockOpt = typer.Option(Path("modelreuse-dock"), "--dock", "-d", help="Dock root directory.")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _emit(data: Any, as_json: bool, render) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render(data)


def _progress(message: str) -> None:
    err_console.print(plain(message), style="dim", highlight=False)


def _write_report(report: dict, out: Path | None) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))


def plain(value: Any) -> Text:
    """Text from a package or a user, for the terminal: never parsed as markup, and every control or
    format character (ANSI escapes, newlines, bidi overrides) shown as a visible escape."""
    text = str(value)
    if find_control_character(text) is not None:
        text = "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in CONTROL_CATEGORIES
                       else ch for ch in text)
    return Text(text)


def _fail(exc: Exception) -> None:
    err_console.print(Text("error: ", style="red") + plain(f"{type(exc).__name__}: {exc}"), highlight=False)
    raise typer.Exit(code=2)


def _open_dock(root: Path, must_exist: bool = True):
    from modelreuse.dock import Dock

    if must_exist and not (root / "dock.sqlite").is_file():
        _fail(FileNotFoundError(f"no dock at {root}; create one with `modelreuse dock init {root}`"))
    return Dock(root)


def _cards_table(cards: list[dict]) -> None:
    table = Table("id", "name", "task", "modality", "features", "tags")
    for c in cards:
        table.add_row(*map(plain, (c["id"], c["name"], c["task_type"], c["modality"], c["n_features"],
                                   ",".join(c["tags"]))))
    console.print(table)


@dock_app.command("init")
def dock_init(root: Path = typer.Argument(Path("modelreuse-dock")), as_json: bool = JsonOpt) -> None:
    """Create an empty dock (SQLite + artifact folder) at ROOT."""
    dock = _open_dock(root, must_exist=False)
    _emit({"root": str(root), "url": dock.url, "n_learnwares": len(dock)}, as_json,
          lambda d: console.print(plain(f"dock ready at {d['root']} ({d['n_learnwares']} learnwares)")))


@dock_app.command("submit")
def dock_submit(packages: list[Path] = typer.Argument(..., help="Learnware directories or zips."),
                dock: Path = DockOpt, trust: bool = typer.Option(False, help="Allow pickle/joblib artifacts."),
                timeout: float = typer.Option(120.0, help="Validation time limit per learnware (s), after start-up."),
                memory: str = typer.Option("8GiB", help="Address-space limit of the validation process (bytes or e.g. 2GiB)."),
                cpu_seconds: int = typer.Option(120, help="CPU-time limit of the validation process (s)."),
                as_json: bool = JsonOpt) -> None:
    """Validate learnwares in a sandboxed process and add them to the dock."""
    from modelreuse.dock.validation import ValidationLimits, parse_size

    d = _open_dock(dock)
    ids = []
    limits = ValidationLimits(timeout_s=timeout, memory_bytes=parse_size(memory), cpu_s=cpu_seconds)
    for p in packages:
        with err_console.status(f"validating {p}"):
            ids.append({"package": str(p), "id": d.submit(p, trust=trust, limits=limits)})
    _emit(ids, as_json, lambda rows: [console.print(plain(f"submitted {r['package']} as {r['id']}")) for r in rows])


@dock_app.command("list")
def dock_list(dock: Path = DockOpt, task_type: str | None = None, modality: str | None = None,
              tag: str | None = None, as_json: bool = JsonOpt) -> None:
    """List learnwares, optionally filtered on card fields."""
    cards = _open_dock(dock).list(task_type=task_type, modality=modality, tag=tag)
    _emit(cards, as_json, _cards_table)


@dock_app.command("show")
def dock_show(learnware_id: str, dock: Path = DockOpt, as_json: bool = JsonOpt) -> None:
    """Show one learnware's card and manifest."""
    card = _open_dock(dock).card(learnware_id)
    _emit(card, as_json, lambda c: console.print_json(json.dumps(c, default=str)))


@dock_app.command("remove")
def dock_remove(learnware_id: str, dock: Path = DockOpt, as_json: bool = JsonOpt) -> None:
    """Delete a learnware and its files."""
    _open_dock(dock).remove(learnware_id)
    _emit({"removed": learnware_id}, as_json, lambda d: console.print(plain(f"removed {d['removed']}")))


@dock_app.command("check")
def dock_check(dock: Path = DockOpt, repair: bool = typer.Option(False, help="Delete what a crash left and "
                                                                  "rows whose files are gone; re-extract caches."),
               as_json: bool = JsonOpt) -> None:
    """Compare the dock's rows with its files; exit code 1 when problems remain (not repaired)."""
    report = _open_dock(dock).check(repair=repair)
    _emit(report.to_dict(), as_json, _check_table)
    if not report.ok and not repair:
        raise typer.Exit(code=1)


def _check_table(r: dict) -> None:
    state = "repaired" if r["repaired"] else "ok" if r["ok"] else "problems found"
    console.print(plain(f"{r['rows']} learnwares; {r['problems']} problem(s): {state}"))
    for key, items in r.items():
        if isinstance(items, list) and items:
            console.print(plain(f"  {key.replace('_', ' ')} ({len(items)}): {', '.join(items[:10])}"))


@dock_app.command("search")
def dock_search(dock: Path = DockOpt,
                query: str | None = typer.Option(None, "--query", "-q", help="Text for semantic search."),
                data: Path | None = typer.Option(None, help="Table of the task's rows (csv/tsv/parquet) or .npy."),
                spec: Path | None = typer.Option(None, help="A task RKME spec (.npz) built elsewhere."),
                method: str = typer.Option("statistical", help="semantic | statistical | mixture"),
                drop: list[str] = typer.Option([], help="Columns of --data to ignore (e.g. the label)."),
                task_type: str | None = None, k: int = 10, as_json: bool = JsonOpt) -> None:
    """Search by card text (--query) or by the task's distribution (--data or --spec)."""
    from modelreuse.specs.rkme import RKMESpec
    from modelreuse.task import Task

    d = _open_dock(dock)
    if method == "semantic" or (query and not data and not spec):
        ranking = d.search(query or "", method="semantic", k=k, task_type=task_type)
    else:
        if spec is not None:
            task = RKMESpec.load(spec)  # a spec alone: ranking without p-values
        elif data is not None:
            task = Task(X=_read_matrix(data, drop, d))  # rows stay local: spec + calibration
        else:
            raise typer.BadParameter("give --query, --data or --spec")
        filters = {"task_type": task_type} if task_type else {}
        ranking = d.search(task, method=method, k=k, **filters)

    _emit(ranking.to_dict(), as_json, _ranking_table)


def _ranking_table(r: dict) -> None:
    if r["details"].get("nothing_fits"):
        console.print(f"[bold]nothing fits[/bold]: every candidate has p < {r['details']['alpha']}; closest:")
    table = Table("rank", "id", "name", "score", "reason")
    for i, e in enumerate(r["entries"], 1):
        table.add_row(*map(plain, (i, e["learnware_id"], e["name"], f"{e['score']:.4g}", e["reason"])))
    console.print(table)


@dock_app.command("recommend")
def dock_recommend(dataset_description: str = typer.Argument(..., help="What your dataset is about."),
                   dock: Path = DockOpt,
                   recommender: Path = typer.Option(Path("modelreuse-recommender"), help="Folder from `recommend train`."),
                   task: str = typer.Option("", help="Task type, e.g. Retrieval or 'zero-shot classification'."),
                   metric: str = typer.Option("", help="Metric name, e.g. ndcg_at_10 or rmse."),
                   task_type: str | None = typer.Option(None, help="Only learnwares with this card task_type."),
                   k: int = 10, cache: Path = typer.Option(Path(".cache/recommend"), help="Description-embedding cache."),
                   as_json: bool = JsonOpt) -> None:
    """Rank the dock's learnwares for a dataset described in words, with a trained recommender."""
    from modelreuse.selection.learned.modellens import ModelLens

    d = _open_dock(dock)
    filters = {"task_type": task_type} if task_type else {}
    ranking = d.recommend(dataset_description, ModelLens.load(recommender, cache), task=task, metric=metric,
                          k=k, **filters)
    _emit(ranking.to_dict(), as_json, _ranking_table)


@dock_app.command("records")
def dock_records(dock: Path = DockOpt, out: Path = typer.Option(..., help="Folder to write the record set to."),
                 fmt: str = typer.Option("parquet", "--format", help="parquet | csv"), as_json: bool = JsonOpt) -> None:
    """Export the leaderboard records of the dock's learnwares (their records specs) as a record set,
    ready for `modelreuse recommend train --records OUT`."""
    records = _open_dock(dock).leaderboard()
    records.write(out, fmt)
    _emit({"out": str(out), **records.report}, as_json,
          lambda r: console.print(plain(f"wrote {r['records']} records of {r['models']} models to {r['out']}")))


def _read_matrix(path: Path, drop: list[str], dock) -> Any:
    """Rows of a .npy file, or of a table encoded into the dock's feature names (first
    learnware whose schema the table covers; plain numeric columns if none declares names)."""
    import numpy as np

    from modelreuse.models.tabular import TableEncoder, encode_for_features, impute_means, read_table

    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    table = read_table(path).drop(columns=list(drop))
    for card in dock.list():
        names = dock.card(card["id"])["manifest"]["input_schema"].get("feature_names")
        if names and all(n.partition("=")[0] in table.columns for n in names):
            return impute_means(encode_for_features(table, names))
    return impute_means(TableEncoder().fit([table]).transform(table))


@bench_app.command("dock-races")
def bench_dock_races(data: Path | None = typer.Option(None, help="Data root (default $MODELREUSE_DATA or ../shared/data)."),
                     work: Path = typer.Option(Path("results/dock-races"), help="Folder for the docks it builds."),
                     postgres: bool = typer.Option(True, help="Also run on a throwaway PostgreSQL server."),
                     submitters: int = 8, searchers: int = 4, rounds: int = 2,
                     kill: int = typer.Option(21, help="kill -9 trials (submit, validated submit, remove)."),
                     seed: int = 0, as_json: bool = JsonOpt) -> None:
    """Concurrent submitters and searchers, remove/re-submit races and kill -9 trials against real
    docks; prints lost, duplicated, corrupt and untyped counts (all should be 0)."""
    import shutil

    from modelreuse.bench.dock_races import run

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    report = run(data or default_data_root(), work, postgres=postgres, submitters=submitters, searchers=searchers,
                 rounds=rounds, kill=kill, seed=seed)
    _emit(report, as_json, lambda r: typer.echo(json.dumps(r, indent=2)))


@bench_app.command("market")
def bench_market(sites: Path = typer.Option(..., help="Directory with one table per site."),
                 target: str = typer.Option(..., help="Target column."),
                 task: str = typer.Option("regression", help="classification | regression"),
                 shots: int = typer.Option(50, help="Labelled rows per user."),
                 seed: int = 0,
                 text_column: str | None = typer.Option(None, help="Text column: RKME over MiniLM embeddings."),
                 bins: str | None = typer.Option(None, help="Comma-separated edges to turn a numeric target into classes."),
                 max_rows: int = typer.Option(10000, help="Rows sampled per site."),
                 dock: Path | None = typer.Option(None, help="Dock root to build (default: a temporary one)."),
                 out: Path | None = typer.Option(None, help="Also write the JSON report here."),
                 exclude_own_site: bool = typer.Option(
                     False, help="Report nothing_fits_rate for users whose own site is left out of the dock."),
                 rescale_features: int | None = typer.Option(
                     None, help="Seed of a random per-feature affine transform applied to all sites (unit-invariance check)."),
                 as_json: bool = JsonOpt) -> None:
    """Per-site market: train a learnware per site, then search and reuse for every site as a user."""
    from modelreuse.bench.market import run_market

    edges = [float(b) for b in bins.split(",")] if bins else None
    report = run_market(sites, target, task, shots, seed, text_column, edges, max_rows, dock, progress=True,
                        rescale_seed=rescale_features, exclude_own_site=exclude_own_site)
    _write_report(report, out)

    def render(r: dict) -> None:
        summary = {k: v for k, v in r.items() if k not in ("users", "reusers")}
        console.print_json(json.dumps(summary))
        table = Table("reuser", "mean score")
        for name, v in r["reusers"].items():
            table.add_row(name, f"{v:.4f}")
        table.add_row("oracle (best single)", f"{r['mean_oracle_score']:.4f}")
        table.add_row("scratch", f"{r['mean_scratch_score']:.4f}")
        console.print(table)
        users = Table("user site", "own rank", "top-1 found", "auto reuser", "auto score", "oracle", "scratch")
        for u in r["users"]:
            users.add_row(u["site"], str(u["own_rank"]), u["top1"], u["auto_choice"], f"{u['reusers']['auto']:.3f}",
                          f"{u['oracle']:.3f}", f"{u['scratch']:.3f}")
        console.print(users)

    _emit(report, as_json, render)


@transfer_app.command("score")
def transfer_score(problem: Path = typer.Option(..., help="A .npz with F (features), y (labels), P (source-class "
                                                        "probabilities) and/or t (regression targets)."),
                   metric: list[str] | None = typer.Option(None, help="Metric name (repeatable); default: all that "
                                                                         "the problem's arrays allow."),
                   as_json: bool = JsonOpt) -> None:
    """Compute transferability metrics on a stored problem; prints {metric_name: value}."""
    import numpy as np

    from modelreuse.selection.transferability import score_problem

    if not problem.is_file():
        _fail(FileNotFoundError(f"no problem file at {problem}"))
    with np.load(problem) as stored:
        arrays = {k: stored[k] for k in stored.files if k in ("F", "y", "P", "t")}
    try:
        values = score_problem(arrays, metric or None)
    except (ModelReuseError, KeyError, ValueError) as exc:
        _fail(exc)

    def render(v: dict) -> None:
        table = Table("metric", "value")
        for name, value in v.items():
            table.add_row(name, ", ".join(f"{x:.10g}" for x in value) if isinstance(value, list) else f"{value:.10g}")
        console.print(table)

    _emit(values, as_json, render)


@bench_app.command("transfer-table")
def bench_transfer_table(data: Path | None = typer.Option(None, help="Data root (default $MODELREUSE_DATA or ../shared/data)."),
                         as_json: bool = JsonOpt) -> None:
    """Recompute the Model Spider 10-model x 8-dataset weighted-tau table beside the staged values."""
    from modelreuse.bench.transfer_table import recompute, render

    report = recompute(data or default_data_root())
    _emit(report, as_json, lambda r: typer.echo(render(r)))


@bench_app.command("transfer")
def bench_transfer(data: Path | None = typer.Option(None, help="Data root (default $MODELREUSE_DATA or ../shared/data)."),
                   zoo: str = typer.Option("text", help="Which zoo: text (28 models, 12 targets) or image (30 models, 15 targets)."),
                   cache: Path = typer.Option(Path(".cache/transfer-zoo"),
                                              help="Cache of MiniLM/EfficientNet outputs and trained CNN weights."),
                   max_rows: int = typer.Option(2000, help="Training rows per target the metrics see."),
                   seed: int = 0,
                   out: Path | None = typer.Option(None, help="Also write the JSON report here."),
                   as_json: bool = JsonOpt) -> None:
    """Rank a real model zoo (text or image) on real targets with every metric and a learned ensemble."""
    from modelreuse.bench.transfer_bench import ZOOS, run_transfer_bench

    if zoo not in ZOOS:
        _fail(ValueError(f"unknown zoo {zoo!r}; choose one of {ZOOS}"))
    report = run_transfer_bench(data or default_data_root(), cache, modality=zoo, max_rows=max_rows, seed=seed,
                                progress=_progress)
    _write_report(report, out)

    def render(r: dict) -> None:
        table = Table("metric", "w-tau (Model Spider)", "w-tau (SFDA)", "hit@1", "hit@3", "s / target")
        for name, m in r["metrics"].items():
            table.add_row(name, f"{m['weighted_tau_model_spider']:.3f}", f"{m['weighted_tau_sfda']:.3f}",
                          f"{m['hit@1']:.2f}", f"{m['hit@3']:.2f}", f"{m['seconds_per_target']:.2f}")
        for key in ("ensemble", "ensemble_logme_only", "size_features_only"):
            e = r[key]
            table.add_row(f"{key} (leave-one-target-out)", f"{e['weighted_tau_model_spider']:.3f}",
                          f"{e['weighted_tau_sfda']:.3f}", f"{e['hit@1']:.2f}", f"{e['hit@3']:.2f}", "")
        console.print(table)

    _emit(report, as_json, render)


@routing_app.command("import")
def routing_import(data: Path | None = typer.Option(None, help="Data root (default $MODELREUSE_DATA or ../shared/data)."),
                   out: Path = typer.Option(Path("routing-records"), help="Folder for <collection>.parquet files."),
                   only: list[str] | None = typer.Option(None, help="Import only these collections."),
                   as_json: bool = JsonOpt) -> None:
    """Convert every staged routing source to the routing-records format."""
    from modelreuse.datasets.importers.routing import IMPORTERS, import_all

    unknown = set(only or []) - set(IMPORTERS)
    if unknown:
        _fail(ValueError(f"unknown collection(s) {sorted(unknown)}; available: {sorted(IMPORTERS)}"))
    reports = import_all(data or default_data_root(), out, only,
                         progress=_progress)

    def render(r: dict) -> None:
        table = Table("collection", "rows", "models", "notes")
        for name, rep in r.items():
            notes = {k: v for k, v in rep.items() if k not in ("rows", "models", "path")}
            table.add_row(name, str(rep.get("rows", "-")), str(rep.get("models", "-")), json.dumps(notes))
        console.print(table)

    _emit(reports, as_json, render)


@routing_app.command("fit")
def routing_fit(records: Path = typer.Option(..., help="Routing records (.parquet/.csv)."),
                router: str = typer.Option("mlp", help="lookup, knn, mlp or mf."),
                split: str = typer.Option("train", help="Rows to fit on."),
                out: Path = typer.Option(..., help="Folder to save the router in."),
                cache: Path = typer.Option(Path(".cache/routing"), help="Query-embedding cache.")) -> None:
    """Fit a router on routing records and save it (JSON + arrays, no pickle)."""
    from modelreuse.records.routing import read_records
    from modelreuse.routing.router import Router

    fitted = Router(router, cache=cache).fit(read_records(records).split(split))
    fitted.save(out)
    typer.echo(f"saved {router} router over {len(fitted.models_)} models to {out}")


@app.command("route")
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
    _emit(rows, as_json, lambda r: [typer.echo(f"{x['model']}\t(predicted {x['predicted_score']:.3f}, "
                                               f"cost {x['cost']:.3g} USD)") for x in r])


@bench_app.command("route")
def bench_route(records: Path = typer.Option(..., help="Routing records (.parquet/.csv)."),
                router: list[str] | None = typer.Option(None, help="Routers to run (default lookup, knn, mlp, mf)."),
                train_split: str = "train", test_split: str = "test",
                seeds: int = typer.Option(3, help="Seeds per trainable router."),
                eval_task: list[str] | None = typer.Option(None, help="Tasks in the macro average (default all)."),
                cache: Path = typer.Option(Path(".cache/routing"), help="Query-embedding cache."),
                plots: Path | None = typer.Option(None, help="Folder for deferral-curve PNGs."),
                out: Path | None = typer.Option(None, help="Also write the JSON report here."),
                as_json: bool = JsonOpt) -> None:
    """Routers vs oracle, random, best single and per-task best on a records table."""
    from modelreuse.bench.route_bench import DEFAULT_ROUTERS, run_route_bench
    from modelreuse.records.routing import read_records

    report = run_route_bench(read_records(records), router or DEFAULT_ROUTERS, train_split, test_split,
                             tuple(range(seeds)), cache, eval_task, plots,
                             progress=_progress)
    _write_report(report, out)

    def render(r: dict) -> None:
        table = Table("method", "score", "macro", "cost (USD/query)", "AIQ", "APGR")
        for name, b in r["baselines"].items():
            table.add_row(name, f"{b['score']:.3f}", f"{b['macro']:.3f}", f"{b['cost']:.3g}", "", "")
        for name, m in r["routers"].items():
            aiq = "" if m.get("aiq") is None else f"{m['aiq']:.3f}"
            table.add_row(name, f"{m['score']:.3f} ± {m['score_std']:.3f}", f"{m['macro']:.3f}", f"{m['cost']:.3g}", aiq,
                          f"{m['apgr']:.3f}" if "apgr" in m else "")
        console.print(table)

    _emit(report, as_json, render)


@bench_app.command("onboard")
def bench_onboard(records: Path = typer.Option(..., help="Item-level records, e.g. metabench from `routing import`."),
                  holdout: float = typer.Option(0.2, help="Fraction of models held out as new models."),
                  zoo_size: int = typer.Option(5, help="Models per random zoo for routing accuracy."),
                  n_zoos: int = 200, seed: int = 0,
                  max_models: int | None = typer.Option(None, help="Subsample the models (speed)."),
                  steps: int = typer.Option(5000, help="Capability-router training steps (5000 chosen on seed 1)."),
                  cache: Path = typer.Option(Path(".cache/routing"), help="Query-embedding cache."),
                  out: Path | None = typer.Option(None, help="Also write the JSON report here."),
                  as_json: bool = JsonOpt) -> None:
    """New models described only by their aptitude-test results: capability router vs kNN and MF."""
    from modelreuse.bench.onboarding import run_onboarding
    from modelreuse.records.routing import read_records

    report = run_onboarding(read_records(records), holdout, zoo_size, n_zoos, seed, cache, max_models,
                            progress=_progress, steps=steps)
    _write_report(report, out)

    def render(r: dict) -> None:
        table = Table("method", "item accuracy", "Brier", f"routing accuracy ({zoo_size}-model zoos)")
        for name, m in r["methods"].items():
            table.add_row(name, f"{m['accuracy']:.4f}", f"{m['brier']:.4f}", f"{m['routing_accuracy']:.4f}")
        for name, value in r["zoo_references"].items():
            table.add_row(f"[dim]{name}[/dim]", "", "", f"{value:.4f}")
        console.print(table)

    _emit(report, as_json, render)


@bench_app.command("vlm")
def bench_vlm(benchmark: str = typer.Option("swab", help="lovm (35 models) or swab (43 models)."),
              data: Path | None = typer.Option(None, help="Data root (default $MODELREUSE_DATA or ../shared/data)."),
              cache: Path = typer.Option(Path(".cache/vlm"), help="Dataset-text embedding cache."),
              out: Path | None = typer.Option(None, help="Also write the JSON report here."),
              as_json: bool = JsonOpt) -> None:
    """Language-only VLM selection, leave-one-dataset-out: R5 and tau per method."""
    from modelreuse.bench.vlm_selection import run_vlm_bench

    if benchmark not in ("lovm", "swab"):
        _fail(ValueError(f"unknown benchmark {benchmark!r}; choose lovm or swab"))
    report = run_vlm_bench(benchmark, data or default_data_root(), cache)
    _write_report(report, out)

    def render(r: dict) -> None:
        table = Table("method", "R5", "tau", "R5 + tau")
        for name, m in r["methods"].items():
            table.add_row(name, f"{m['r5']:.3f}", f"{m['tau']:.3f}", f"{m['r5_plus_tau']:.3f}")
        console.print(table)

    _emit(report, as_json, render)



@records_app.command("import")
def records_import(data: Path | None = typer.Option(None, help="Data root (default $MODELREUSE_DATA or ../shared/data)."),
                   out: Path = typer.Option(Path("leaderboard-records"), help="Folder for records/models/datasets tables."),
                   only: list[str] | None = typer.Option(None, help="Import only these sources."),
                   fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
                   as_json: bool = JsonOpt) -> None:
    """Convert every staged leaderboard to the leaderboard-records format and report what was skipped."""
    from modelreuse.datasets.importers.leaderboard import import_all

    result = import_all(data or default_data_root(), only, progress=_progress)
    result.write(out, fmt)

    def render(r: dict) -> None:
        table = Table("source", "records", "models", "datasets", "groups", "skipped / merged")
        for name, rep in r["per_source"].items():
            notes = {k: v for k, v in rep.items() if k not in ("records", "models", "datasets", "ranking_groups")}
            table.add_row(name, str(rep["records"]), str(rep["models"]), str(rep["datasets"]),
                          str(rep["ranking_groups"]), json.dumps(notes))
        console.print(table)
        console.print({k: v for k, v in r.items() if k != "per_source"})
        console.print(f"wrote {out}")

    _emit(result.report, as_json, render)


@bench_app.command("recommend")
def bench_recommend(records: Path = typer.Option(..., help="Folder with records, models, datasets tables."),
                    setting: str = typer.Option("unseen-datasets", help="completion, unseen-datasets or unseen-models."),
                    method: list[str] | None = typer.Option(None, help="Methods to run (default: all)."),
                    seeds: int = typer.Option(1, help="Number of seeds (splits and training), 0..N-1."),
                    steps: int = typer.Option(3000, help="ModelLens training steps."),
                    members: int = typer.Option(3, help="ModelLens ensemble members."),
                    cache: Path = typer.Option(Path(".cache/recommend"), help="Description-embedding cache."),
                    out: Path | None = typer.Option(None, help="Also write the JSON report here."),
                    as_json: bool = JsonOpt) -> None:
    """Recommenders vs baselines: weighted tau, Hit@k, NDCG@k, Rec@k pooled and per source."""
    from modelreuse.bench.recommend_bench import run_recommend_bench
    from modelreuse.records.leaderboard import read_leaderboard

    report = run_recommend_bench(read_leaderboard(records), setting, method, tuple(range(seeds)), cache=cache,
                                 modellens_options={"steps": steps, "members": members}, progress=_progress)
    _write_report(report, out)

    def render(r: dict) -> None:
        console.print(f"{r['setting']}: {r['split']}")
        table = Table("method", "scope", "w-tau (MS)", "w-tau (SFDA)", "hit@1", "ndcg@10", "rec@10", "queries")
        for name, m in r["methods"].items():
            rows = [("pooled", m)] + sorted(m["per_source"].items())
            for scope, v in rows:
                table.add_row(name, scope, *(f"{v[k]:.3f}" for k in ("weighted_tau", "weighted_tau_sfda", "hit@1",
                                                                       "ndcg@10", "rec@10")),
                              str(int(v.get("queries", r["split"]["queries"]))))
        console.print(table)

    _emit(report, as_json, render)


@recommend_app.callback(invoke_without_command=True)
def recommend(ctx: typer.Context,
              dataset_description: str | None = typer.Option(None, help="What your dataset is about."),
              recommender: Path = typer.Option(Path("modelreuse-recommender"), help="Folder from `recommend train`."),
              task: str = typer.Option("", help="Task type, e.g. Retrieval or 'zero-shot classification'."),
              metric: str = typer.Option("", help="Metric name, e.g. ndcg_at_10 or acc1."),
              source: list[str] | None = typer.Option(None, help="Only models with records from these sources."),
              top: int = typer.Option(10, help="How many models to list."),
              cache: Path = typer.Option(Path(".cache/recommend"), help="Description-embedding cache."),
              as_json: bool = JsonOpt) -> None:
    """Rank models for a dataset described in words, with the reason for each (prior vs interaction)."""
    if ctx.invoked_subcommand is not None:
        return
    from modelreuse.selection.learned.modellens import ModelLens

    if not dataset_description:
        _fail(ValueError("pass --dataset-description (or use `modelreuse recommend train`)"))
    ranked = ModelLens.load(recommender, cache).recommend(dataset_description, task, metric, top=top,
                                                           sources=source)

    def render(rows: list[dict]) -> None:
        table = Table("rank", "model", "score", "reason")
        for rank, row in enumerate(rows, 1):
            table.add_row(str(rank), row["model"], f"{row['score']:.3f}", row["reason"])
        console.print(table)

    _emit(ranked.to_dict(orient="records"), as_json, render)


@recommend_app.command("train")
def recommend_train(records: Path = typer.Option(..., help="Folder with records, models, datasets tables."),
                    out: Path = typer.Option(Path("modelreuse-recommender"), help="Folder to save the recommender in."),
                    steps: int = typer.Option(3000, help="Training steps."),
                    members: int = typer.Option(3, help="Ensemble members (seeds seed, seed+1, ...)."),
                    seed: int = typer.Option(0, help="Training seed."),
                    cache: Path = typer.Option(Path(".cache/recommend"), help="Description-embedding cache.")) -> None:
    """Train the ModelLens recommender on a record set and save it (JSON + npz + parquet, no pickle)."""
    from modelreuse.records.leaderboard import read_leaderboard
    from modelreuse.selection.learned.modellens import ModelLens

    fitted = ModelLens(steps=steps, seed=seed, members=members, cache=cache,
                       progress=_progress).fit(read_leaderboard(records))
    fitted.save(out)
    typer.echo(f"saved modellens over {len(fitted.models_)} models and {len(fitted.datasets_)} datasets to {out}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

"""``modelreuse bench ...``: the evaluation harnesses; each prints a report (``--json``: its JSON)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import typer

from modelreuse.cli._common import (
    DataOpt,
    JsonOpt,
    OutOpt,
    RegistryHelp,
    cache_dir,
    cache_option,
    data_root,
    progress,
    show,
)

app = typer.Typer(help="Benchmarks: each prints a report (--json: its JSON).", no_args_is_help=True)
VLM_BENCHMARKS = ("lovm", "swab")


@app.command("dock-races")
def bench_dock_races(data: Path | None = DataOpt,
                     work: Path = typer.Option(Path("results/dock-races"), help="Folder for the docks it builds."),
                     postgres: bool = typer.Option(True, help="Also run on a throwaway PostgreSQL server."),
                     submitters: int = 8, searchers: int = 4, rounds: int = 2,
                     kill: int = typer.Option(21, help="kill -9 trials (submit, validated submit, remove)."),
                     seed: int = 0, out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """Concurrent submitters and searchers, remove/re-submit races and kill -9 trials against real
    docks; prints lost, duplicated, corrupt and untyped counts (all should be 0)."""
    from modelreuse.bench.dock_races import run

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    show(run(data_root(data), work, postgres=postgres, submitters=submitters, searchers=searchers, rounds=rounds,
             kill=kill, seed=seed), as_json, out)


@app.command("dock-scale")
def bench_dock_scale(n: int = typer.Option(1000, "--n", help="Learnwares in the dock."),
                     dock: Path = typer.Option(Path("results/dock-scale"), "--out",
                                               help="Dock folder to build and keep (with user.csv)."),
                     data: Path | None = DataOpt, users: int = 10, repeats: int = 20, seed: int = 0,
                     existing: bool = typer.Option(False, help="Measure the dock already at --out (N learnwares)."),
                     jobs: int = typer.Option(1, help="Processes that build the learnware packages."),
                     as_json: bool = JsonOpt) -> None:
    """A dock of N learnwares from real Beijing stations: submit throughput, index build and
    incremental add, disk, a new process's CLI search, warm p50/p99, top-1 hit rate."""
    from modelreuse.bench.dock_scale import run

    if not existing:
        shutil.rmtree(dock, ignore_errors=True)
    show(run(data_root(data), n, dock, users=users, repeats=repeats, seed=seed, existing=existing, jobs=jobs),
         as_json, None)


@app.command("server-load")
def bench_server_load(dock: Path | None = typer.Option(
                          None, "--dock", help="Serve this existing dock (uploads are added to it); or give --n."),
                      n: int | None = typer.Option(None, "--n", help="Build a dock of N dock-scale learnwares first."),
                      db: str | None = typer.Option(None, "--db", help="The dock's metadata database URL (PostgreSQL)."),
                      postgres: bool = typer.Option(False, help="Build the --n dock in a throwaway PostgreSQL."),
                      clients: int = typer.Option(32, help="Concurrent HTTP clients."),
                      seconds: float = typer.Option(30, help="Length of the timed phase."),
                      upload_share: float = typer.Option(0.1, help="Probability that a request is an upload."),
                      upload_pool: int = typer.Option(100, help="New learnware zips built for uploads (at most "
                                                                "this many uploads; then clients search)."),
                      workers: int = typer.Option(1, help="uvicorn worker processes of the server."),
                      validation_workers: int = typer.Option(2, help="Sandboxed validations at once per worker."),
                      settle_timeout: float = typer.Option(900, help="Seconds to wait for uploads to be checked."),
                      work: Path = typer.Option(Path("results/server-load"), help="Folder for the dock and logs."),
                      jobs: int = typer.Option(1, help="Processes that build learnware packages."),
                      data: Path | None = DataOpt, seed: int = 0, out: Path | None = OutOpt,
                      as_json: bool = JsonOpt) -> None:
    """Concurrent clients against a real `modelreuse serve` on loopback (uploads and spec-only
    statistical searches): throughput, p50/p99 per kind, errors, and lost or duplicated learnwares."""
    from modelreuse.bench.server_load import run

    show(run(data_root(data), work, n=n, dock=dock, db_url=db, postgres=postgres, clients=clients, seconds=seconds,
             upload_share=upload_share, upload_pool=upload_pool, workers=workers,
             validation_workers=validation_workers, jobs=jobs, seed=seed, settle_timeout=settle_timeout),
         as_json, out)


@app.command("market")
def bench_market(sites: Path = typer.Option(..., help="Directory with one table per site."),
                 target: str = typer.Option(..., help="Target column."),
                 task: str = typer.Option("regression", help="classification | regression"),
                 shots: int = typer.Option(50, help="Labelled rows per user."),
                 seed: int = 0,
                 text_column: str | None = typer.Option(None, help="Text column: RKME over MiniLM embeddings."),
                 bins: str | None = typer.Option(None, help="Comma-separated edges to turn a numeric target into classes."),
                 max_rows: int = typer.Option(10000, help="Rows sampled per site."),
                 dock: Path | None = typer.Option(None, help="Dock root to build (default: a temporary one)."),
                 out: Path | None = OutOpt,
                 exclude_own_site: bool = typer.Option(
                     False, help="Report nothing_fits_rate for users whose own site is left out of the dock."),
                 rescale_features: int | None = typer.Option(
                     None, help="Seed of a random per-feature affine transform applied to all sites (unit-invariance check)."),
                 spec: str = typer.Option("rkme", help="Identification spec: rkme, or pave (text classification "
                                                       "sites: PAVE model vectors and task vectors)."),
                 as_json: bool = JsonOpt) -> None:
    """Per-site market: train a learnware per site, then search and reuse for every site as a user."""
    from modelreuse.bench.market import run_market

    edges = [float(b) for b in bins.split(",")] if bins else None
    show(run_market(sites, target, task, shots, seed, text_column, edges, max_rows, dock, progress=progress,
                    rescale_seed=rescale_features, exclude_own_site=exclude_own_site, spec=spec), as_json, out)


@app.command("pave")
def bench_pave(modality: str = typer.Option("text", help="text (17 corpora) or image (9 subtasks of MNIST, "
                                                         "Fashion-MNIST, CIFAR-10)."),
               datasets: str | None = typer.Option(None, help="Comma-separated datasets (default: all of the modality)."),
               shots: int | None = typer.Option(None, help="Labelled rows per class of a user (default: 16 text, 2 image)."),
               seed: int = 0,
               noise: float = typer.Option(0.8, help="Share of random labels the corrupted twins are trained on."),
               max_developer: int = typer.Option(2000, help="Developer rows per dataset (stratified sample)."),
               max_test: int = typer.Option(1000, help="Test rows per dataset (stratified sample)."),
               approx: int = typer.Option(6, help="Datasets in the approximation check (0: skip it)."),
               finetune_base: bool = typer.Option(True, help="Fine-tune the base model on the shots (the slowest column)."),
               spec_steps: int | None = typer.Option(None, help="Training steps of every PAVE vector (default: the spec's)."),
               checkpoint: Path | None = typer.Option(
                   None, help="JSON file of finished datasets and tasks (work folder beside it); a rerun resumes."),
               plot: Path | None = typer.Option(None, help="PNG of scores normalised to the Oracle (Figures A7/A8)."),
               threads: int | None = typer.Option(None, help="torch threads for the run (default: torch's)."),
               data: Path | None = DataOpt,
               cache: Path | None = cache_option("pave-bench", "Cache of encoder features"),
               out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """The PAVE paper's protocol: well-trained and corrupted learnwares per dataset, k-shot users,
    fine-tuned base vs Random, RKME, PAVE and Oracle, "beyond" the own dataset, approximation check, speed."""
    from modelreuse.bench.pave_bench import PAVEBenchConfig, run_pave_bench

    steps = {} if spec_steps is None else {"steps": spec_steps}
    config = PAVEBenchConfig(modality=modality, datasets=datasets.split(",") if datasets else [], shots=shots or 0,
                             seed=seed, noise=noise, max_developer=max_developer, max_test=max_test, approx=approx,
                             finetune_base=finetune_base, model_fit=steps, task_fit=steps)
    report = run_pave_bench(config, data_root(data), cache_dir(cache, "pave-bench"), checkpoint, progress=progress,
                            threads=threads)
    if plot is not None:
        report.plot(plot)
    show(report, as_json, out)


@app.command("pave-scale")
def bench_pave_scale(n: int = typer.Option(10_000, "--n", help="PAVE learnwares in the dock."),
                     dock: Path = typer.Option(Path("results/pave-scale"), "--dock",
                                               help="Dock folder, built or topped up to N and kept."),
                     queries: int = typer.Option(100, help="Task vectors searched."),
                     repeats: int = typer.Option(3, help="Searches per task vector."),
                     out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """Warm parameter (PAVE) search among N learnwares, measured in a new process (issue 18's
    goal: <= 20 ms at 10,000), with top-1 agreement against an exhaustive search."""
    from modelreuse.bench.pave_scale import run

    show(run(dock, n, queries=queries, repeats=repeats), as_json, out)


@app.command("transfer-table")
def bench_transfer_table(data: Path | None = DataOpt, out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """Recompute the Model Spider 10-model x 8-dataset weighted-tau table beside the staged values."""
    from rich.text import Text

    from modelreuse.bench.report import DictReport
    from modelreuse.bench.transfer_table import recompute, render

    show(DictReport(recompute(data_root(data)), lambda r: [Text(render(r))]), as_json, out)


@app.command("transfer")
def bench_transfer(data: Path | None = DataOpt,
                   zoo: str = typer.Option("text", help="Which zoo: text (28 models, 12 targets) or image (30 models, 15 targets)."),
                   cache: Path | None = cache_option("transfer-zoo", "Cache of MiniLM/EfficientNet outputs and trained CNN weights"),
                   max_rows: int = typer.Option(2000, help="Training rows per target the metrics see."),
                   seed: int = 0, out: Path | None = OutOpt,
                   checkpoint: Path | None = typer.Option(
                       None, help="JSON file that keeps each finished target's scores; a rerun resumes from it."),
                   as_json: bool = JsonOpt) -> None:
    """Rank a real model zoo (text or image) on real targets with every metric and a learned ensemble."""
    from modelreuse.bench.report import DictReport
    from modelreuse.bench.transfer_bench import ZOOS, run_transfer_bench
    from modelreuse.errors import UnknownNameError

    if zoo not in ZOOS:
        raise UnknownNameError(f"unknown zoo {zoo!r}; choose one of {', '.join(ZOOS)}")
    report = run_transfer_bench(data_root(data), cache_dir(cache, "transfer-zoo"), modality=zoo, max_rows=max_rows,
                                seed=seed, progress=progress, checkpoint=checkpoint)
    show(DictReport(report, _transfer_view), as_json, out)


@app.command("route", cls=RegistryHelp)
def bench_route(records: Path = typer.Option(..., help="Routing records (.parquet/.csv)."),
                router: list[str] | None = typer.Option(None, help="Router to run (repeatable), one of: {routers}. "
                                                                   "Default: lookup, knn, mlp, mf."),
                train_split: str = "train", test_split: str = "test",
                seeds: int = typer.Option(3, help="Seeds per trainable router."),
                eval_task: list[str] | None = typer.Option(None, help="Tasks in the macro average (default all)."),
                cache: Path | None = cache_option("routing", "Query-embedding cache"),
                plots: Path | None = typer.Option(None, help="Folder for deferral-curve PNGs."),
                out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """Routers vs oracle, random, best single and per-task best on a records table."""
    from modelreuse.bench.report import DictReport
    from modelreuse.bench.route_bench import DEFAULT_ROUTERS, run_route_bench
    from modelreuse.records.routing import read_records

    report = run_route_bench(read_records(records), router or DEFAULT_ROUTERS, train_split, test_split,
                             tuple(range(seeds)), cache_dir(cache, "routing"), eval_task, plots, progress=progress)
    show(DictReport(report, _route_view), as_json, out)


@app.command("onboard")
def bench_onboard(records: Path = typer.Option(..., help="Item-level records, e.g. metabench from `routing import`."),
                  holdout: float = typer.Option(0.2, help="Fraction of models held out as new models."),
                  zoo_size: int = typer.Option(5, help="Models per random zoo for routing accuracy."),
                  n_zoos: int = 200, seed: int = 0,
                  max_models: int | None = typer.Option(None, help="Subsample the models (speed)."),
                  steps: int = typer.Option(5000, help="Capability-router training steps (5000 chosen on seed 1)."),
                  cache: Path | None = cache_option("routing", "Query-embedding cache"),
                  out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """New models described only by their aptitude-test results: capability router vs kNN and MF."""
    from modelreuse.bench.onboarding import run_onboarding
    from modelreuse.bench.report import DictReport
    from modelreuse.records.routing import read_records

    report = run_onboarding(read_records(records), holdout, zoo_size, n_zoos, seed, cache_dir(cache, "routing"),
                            max_models, progress=progress, steps=steps)
    show(DictReport(report, lambda r: _onboard_view(r, zoo_size)), as_json, out)


@app.command("vlm")
def bench_vlm(benchmark: str = typer.Option("swab", help="lovm (35 models) or swab (43 models)."),
              data: Path | None = DataOpt,
              cache: Path | None = cache_option("vlm", "Dataset-text embedding cache"),
              out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """Language-only VLM selection, leave-one-dataset-out: R5 and tau per method."""
    from modelreuse.bench.report import DictReport
    from modelreuse.bench.vlm_selection import run_vlm_bench
    from modelreuse.errors import UnknownNameError

    if benchmark not in VLM_BENCHMARKS:
        raise UnknownNameError(f"unknown VLM benchmark {benchmark!r}; choose one of {', '.join(VLM_BENCHMARKS)}")
    report = run_vlm_bench(benchmark, data_root(data), cache_dir(cache, "vlm"))
    show(DictReport(report, _vlm_view), as_json, out)


@app.command("recommend", cls=RegistryHelp)
def bench_recommend(records: Path = typer.Option(..., help="Folder with records, models, datasets tables."),
                    setting: str = typer.Option("unseen-datasets", help="completion, unseen-datasets or unseen-models."),
                    method: list[str] | None = typer.Option(None, help="Recommender to run (repeatable), one of: "
                                                                       "{recommenders}. Default: all."),
                    seeds: int = typer.Option(1, help="Number of seeds (splits and training), 0..N-1."),
                    steps: int = typer.Option(3000, help="ModelLens training steps."),
                    members: int = typer.Option(3, help="ModelLens ensemble members."),
                    cache: Path | None = cache_option("recommend", "Description-embedding cache"),
                    out: Path | None = OutOpt, as_json: bool = JsonOpt) -> None:
    """Recommenders vs baselines: weighted tau, Hit@k, NDCG@k, Rec@k pooled and per source."""
    from modelreuse.bench.recommend_bench import run_recommend_bench
    from modelreuse.bench.report import DictReport
    from modelreuse.records.leaderboard import read_leaderboard

    report = run_recommend_bench(read_leaderboard(records), setting, method, tuple(range(seeds)),
                                 cache=cache_dir(cache, "recommend"),
                                 modellens_options={"steps": steps, "members": members}, progress=progress)
    show(DictReport(report, _recommend_view), as_json, out)


# ---------------------------------------------------------------------- terminal views of dict reports
def _table(*columns: str):
    from rich.table import Table

    return Table(*columns)


def _transfer_view(r: dict) -> list[Any]:
    table = _table("metric", "w-tau (Model Spider)", "w-tau (SFDA)", "hit@1", "hit@3", "s / target")
    for name, m in r["metrics"].items():
        table.add_row(name, f"{m['weighted_tau_model_spider']:.3f}", f"{m['weighted_tau_sfda']:.3f}",
                      f"{m['hit@1']:.2f}", f"{m['hit@3']:.2f}", f"{m['seconds_per_target']:.2f}")
    for key in ("ensemble", "ensemble_logme_only", "size_features_only"):
        e = r[key]
        table.add_row(f"{key} (leave-one-target-out)", f"{e['weighted_tau_model_spider']:.3f}",
                      f"{e['weighted_tau_sfda']:.3f}", f"{e['hit@1']:.2f}", f"{e['hit@3']:.2f}", "")
    return [table]


def _route_view(r: dict) -> list[Any]:
    table = _table("method", "score", "macro", "cost (USD/query)", "AIQ", "APGR")
    for name, b in r["baselines"].items():
        table.add_row(name, f"{b['score']:.3f}", f"{b['macro']:.3f}", f"{b['cost']:.3g}", "", "")
    for name, m in r["routers"].items():
        aiq = "" if m.get("aiq") is None else f"{m['aiq']:.3f}"
        table.add_row(name, f"{m['score']:.3f} ± {m['score_std']:.3f}", f"{m['macro']:.3f}", f"{m['cost']:.3g}", aiq,
                      f"{m['apgr']:.3f}" if "apgr" in m else "")
    return [table]


def _onboard_view(r: dict, zoo_size: int) -> list[Any]:
    table = _table("method", "item accuracy", "Brier", f"routing accuracy ({zoo_size}-model zoos)")
    for name, m in r["methods"].items():
        table.add_row(name, f"{m['accuracy']:.4f}", f"{m['brier']:.4f}", f"{m['routing_accuracy']:.4f}")
    for name, value in r["zoo_references"].items():
        table.add_row(f"[dim]{name}[/dim]", "", "", f"{value:.4f}")
    return [table]


def _vlm_view(r: dict) -> list[Any]:
    table = _table("method", "R5", "tau", "R5 + tau")
    for name, m in r["methods"].items():
        table.add_row(name, f"{m['r5']:.3f}", f"{m['tau']:.3f}", f"{m['r5_plus_tau']:.3f}")
    return [table]


def _recommend_view(r: dict) -> list[Any]:
    from rich.text import Text

    table = _table("method", "scope", "w-tau (MS)", "w-tau (SFDA)", "hit@1", "ndcg@10", "rec@10", "queries")
    for name, m in r["methods"].items():
        for scope, v in [("pooled", m)] + sorted(m["per_source"].items()):
            table.add_row(name, scope, *(f"{v[k]:.3f}" for k in ("weighted_tau", "weighted_tau_sfda", "hit@1",
                                                                   "ndcg@10", "rec@10")),
                          str(int(v.get("queries", r["split"]["queries"]))))
    return [Text(f"{r['setting']}: {r['split']}"), table]

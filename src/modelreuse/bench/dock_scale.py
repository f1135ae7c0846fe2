"""``modelreuse bench dock-scale``: the dock on the path users take, at ``N`` learnwares.

Market (real rows, seeded variation). The 12 Beijing air-quality stations
(``tabular/beijing_air_quality``), numeric weather columns :data:`COLUMNS`, target ``PM2.5``.
Learnware ``i`` (``rng = default_rng(seed + i)``) is a Ridge regressor (``alpha = 10**U(-2, 2)``)
on a window of :data:`WINDOW` consecutive complete hours of station ``i % 12`` starting at a
seeded offset, every fifth row of the window held out; its RKME has :data:`RKME_POINTS` points
(seeded by ``i``), and it is built from its table with ``Learnware.build(dir, model, rkme,
table=..., target="PM2.5", task_type="regression")`` (so its table
schema names the columns, and a user table is encoded by it). A user's rows are the held-out rows
of one learnware's window: that learnware is the user's own, the one top-1 should name.

Measured (one process unless said otherwise):

* build + submit: packages built (``jobs`` processes), then submitted with ``Dock.submit_many(validate=False)``
  (batched, no sandbox validation); learnwares per second of each phase;
* index build: the dock's persisted RKME index rebuilt from the store (the index folder removed
  first); incremental add: submitting one more learnware (index updated by that submit);
* disk: bytes under the dock folder, and under its index folder;
* cold CLI: a new process running ``modelreuse dock search --dock DIR --data DIR/user.csv
  --json`` (interpreter start and imports included), wall time and peak RSS from
  ``/usr/bin/time -v`` when installed (else the subprocess is timed here and ``time_tool`` says so);
* warm latency in one process, ``repeats`` searches per user after one untimed search: ranking
  only (``statistical``, no calibration, task RKME already fitted) and ranking + calibration +
  mixture (``statistical`` with p-values, then ``mixture``); p50 and p99 in milliseconds;
* top-1 hit rate over ``users`` users (their own learnware first), and the rate at which the
  first learnware is at least of the user's station;
* peak RSS of this process (``resource.getrusage``; includes building the market).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelreuse.bench.report import Report
from modelreuse.dock import Dock
from modelreuse.errors import InvalidTaskDataError

COLUMNS = ["TEMP", "PRES", "DEWP", "RAIN", "WSPM"]
TARGET = "PM2.5"
WINDOW = 500
RKME_POINTS = 20
BEIJING = ("tabular", "beijing_air_quality")
TIME_TOOL = "/usr/bin/time"


@dataclass
class DockScaleReport(Report):
    """What ``bench dock-scale`` measured (module doc); times in seconds unless named ``_ms``."""

    n: int
    dock: str
    build_per_s: float
    submit_per_s: float
    index_build_s: float | None
    incremental_add_s: float
    disk_bytes: int
    index_bytes: int
    cold_cli_s: float
    cold_cli_rss_mb: float | None
    time_tool: str
    warm_rank_p50_ms: float
    warm_rank_p99_ms: float
    warm_full_p50_ms: float
    warm_full_p99_ms: float
    top1_hit_rate: float
    top1_station_rate: float
    users: int
    peak_rss_mb: float
    command: str
    notes: list[str] = field(default_factory=list)


def run(data_root: Path, n: int, out: Path, *, users: int = 10, repeats: int = 20, seed: int = 0,
        existing: bool = False, jobs: int = 1) -> DockScaleReport:
    """Build (or, with ``existing``, reuse) a dock of ``n`` learnwares at ``out`` and measure it."""
    tables = station_tables(data_root)
    plans = [plan_learnware(tables, i, seed) for i in range(n + 1)]
    dock = Dock(out)
    notes = []
    if existing and len(dock) >= n:
        build_rate = submit_rate = float("nan")
        notes.append(f"reused the dock at {out}; build and submit were not measured")
    else:
        build_rate, submit_rate = build_and_submit(dock, out, tables, plans[:n], jobs)
    user_ids = np.random.default_rng(seed).choice(n, min(users, n), replace=False)
    own = [_id_of(dock, plans[i]) for i in user_ids]
    user_table(tables, plans[user_ids[0]]).to_csv(out / "user.csv", index=False)
    index_s = _index_build_s(dock)
    if index_s is None:
        notes.append("this dock has no persisted index; the first search built it in memory")
    add_s = _incremental_add(dock, out, tables, plans[n])
    cold_s, cold_rss, tool = _cold_cli(out)
    rank, full, hits, station_hits = _warm(Dock(out), tables, [plans[i] for i in user_ids], own, repeats)
    return DockScaleReport(
        n=n, dock=str(out), build_per_s=build_rate, submit_per_s=submit_rate, index_build_s=index_s,
        incremental_add_s=add_s, disk_bytes=_size(out), index_bytes=_size(out / "index"), cold_cli_s=cold_s,
        cold_cli_rss_mb=cold_rss, time_tool=tool, warm_rank_p50_ms=_pct(rank, 50), warm_rank_p99_ms=_pct(rank, 99),
        warm_full_p50_ms=_pct(full, 50), warm_full_p99_ms=_pct(full, 99), top1_hit_rate=hits / len(own),
        top1_station_rate=station_hits / len(own), users=len(own),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        command=f"modelreuse bench dock-scale --n {n} --out {out} --jobs {jobs}", notes=notes)


@dataclass(frozen=True)
class LearnwarePlan:
    """Learnware ``i`` of the market: its station, window, held-out rows and Ridge alpha."""

    i: int
    station: int
    start: int
    alpha: float


def station_tables(data_root: Path) -> list:
    """The 12 stations' complete rows of :data:`COLUMNS` and the target, in time order."""
    from modelreuse.models.tabular import list_tables, read_table

    paths = sorted(list_tables(data_root.joinpath(*BEIJING)))
    if len(paths) != 12:
        raise InvalidTaskDataError(f"expected the 12 Beijing station tables under {data_root.joinpath(*BEIJING)}, "
                                   f"found {len(paths)}; point --data at the shared data root")
    return [read_table(p)[COLUMNS + [TARGET]].dropna().reset_index(drop=True) for p in paths]


def plan_learnware(tables: list, i: int, seed: int) -> LearnwarePlan:
    rng = np.random.default_rng(seed + i)
    station = i % len(tables)
    return LearnwarePlan(i, station, int(rng.integers(0, len(tables[station]) - WINDOW)), float(10 ** rng.uniform(-2, 2)))


def _window(tables: list, plan: LearnwarePlan, held_out: bool):
    rows = tables[plan.station].iloc[plan.start:plan.start + WINDOW]
    mask = (np.arange(len(rows)) % 5 == 0) == held_out
    return rows[mask].reset_index(drop=True)


def user_table(tables: list, plan: LearnwarePlan):
    return _window(tables, plan, held_out=True)[COLUMNS]


def _build(directory: Path, tables: list, plan: LearnwarePlan):
    from sklearn.linear_model import Ridge

    from modelreuse.learnware import Learnware
    from modelreuse.specs.rkme import RKMESpec

    table = _window(tables, plan, held_out=False)
    model = Ridge(alpha=plan.alpha).fit(table[COLUMNS], table[TARGET])
    rkme = RKMESpec.fit(table[COLUMNS].to_numpy(float), m=RKME_POINTS, max_iter=5, seed=plan.i)
    return Learnware.build(directory / f"lw{plan.i}", model, rkme, table=table, target=TARGET, name=f"lw{plan.i}",
                           task_type="regression", description=f"PM2.5 at station {plan.station}")


def build_and_submit(dock: Dock, out: Path, tables: list, plans: list[LearnwarePlan], jobs: int) -> tuple[float, float]:
    """Build every package (``jobs`` processes through joblib, each building a contiguous chunk),
    then submit them in batches of 100; learnwares per second of each phase."""
    from joblib import Parallel, delayed

    from modelreuse.learnware import Learnware

    packages = out / "packages"
    shutil.rmtree(packages, ignore_errors=True)
    start = time.perf_counter()
    chunks = np.array_split(np.arange(len(plans)), max(1, jobs))
    folders = Parallel(n_jobs=jobs)(delayed(build_chunk)(packages, tables, [plans[i] for i in c]) for c in chunks)
    built = [Learnware.open(f) for chunk in folders for f in chunk]
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    for lo in range(0, len(built), 100):
        _submit_batch(dock, built[lo:lo + 100])
    submit_s = time.perf_counter() - start
    shutil.rmtree(packages)
    return len(plans) / build_s, len(plans) / submit_s


def build_chunk(packages: Path, tables: list, plans: list[LearnwarePlan]) -> list[Path]:
    return [_build(packages, tables, p).root for p in plans]


def _submit_batch(dock: Dock, packages: list) -> list[str]:
    try:
        return dock.submit_many(packages, validate=False)
    except TypeError:  # a dock without batched unvalidated submits
        return [dock.submit(p, validate=False) for p in packages]


def _id_of(dock: Dock, plan: LearnwarePlan) -> str:
    (card,) = [c for c in dock.list() if c["name"] == f"lw{plan.i}"]
    return card["id"]


def _index_build_s(dock: Dock) -> float | None:
    index = getattr(dock, "index", None)
    if index is None:
        return None
    shutil.rmtree(index.folder, ignore_errors=True)
    start = time.perf_counter()
    index.rebuild()
    return time.perf_counter() - start


def _incremental_add(dock: Dock, out: Path, tables: list, plan: LearnwarePlan) -> float:
    packages = out / "packages"
    lw = _build(packages, tables, plan)
    start = time.perf_counter()
    learnware_id = dock.submit(lw, validate=False)
    seconds = time.perf_counter() - start
    dock.remove(learnware_id)
    shutil.rmtree(packages)
    return seconds


def _cold_cli(out: Path) -> tuple[float, float | None, str]:
    """Wall time (and peak RSS) of a new process searching the dock with the user table."""
    command = [str(Path(sys.executable).parent / "modelreuse"), "dock", "search", "--dock", str(out), "--data",
               str(out / "user.csv"), "--json"]
    use_time = Path(TIME_TOOL).is_file()
    start = time.perf_counter()
    done = subprocess.run(([TIME_TOOL, "-v"] if use_time else []) + command, capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"the CLI search failed ({done.returncode}): {done.stderr[-2000:]}")
    if not use_time:
        return seconds, None, "timed around the subprocess (no /usr/bin/time)"
    fields = dict(line.strip().rsplit(": ", 1) for line in done.stderr.splitlines() if ": " in line)
    wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
    return (sum(float(x) * 60 ** k for k, x in enumerate(reversed(wall))),
            float(fields["Maximum resident set size (kbytes)"]) / 1024, "/usr/bin/time -v")


def _warm(dock: Dock, tables: list, plans: list[LearnwarePlan], own: list[str], repeats: int):
    """Per-search milliseconds (ranking only; ranking + calibration + mixture) and top-1 hits."""
    from modelreuse.task import Task

    rank, full, hits, station_hits = [], [], 0, 0
    station_of = {c["id"]: c["description"] for c in dock.list()}
    for plan, own_id in zip(plans, own):
        task = Task(X=user_table(tables, plan).to_numpy(float), feature_names=COLUMNS, task_type="regression")
        task.rkme  # fitted once, outside the timings  # noqa: B018
        top = dock.search(task, k=5, calibrate=False)[0].learnware_id
        hits += top == own_id
        station_hits += station_of[top] == station_of[own_id]
        for _ in range(repeats):
            start = time.perf_counter()
            dock.search(task, k=5, calibrate=False)
            rank.append(time.perf_counter() - start)
            start = time.perf_counter()
            dock.search(task, k=5)
            dock.search(task, method="mixture", k=5)
            full.append(time.perf_counter() - start)
    return rank, full, hits, station_hits


def _pct(seconds: list[float], q: float) -> float:
    return float(np.percentile(seconds, q) * 1000)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0

"""Warm latency of a dock's statistical search in one process, at ``N`` learnwares.

Market: ``modelreuse bench dock-scale``'s (:mod:`modelreuse.bench.dock_scale`): Ridge learnwares
on seeded windows of the 12 Beijing stations, 20-point RKMEs; a user's rows are the held-out rows
of one learnware's window. The dock is built at ``--dock DIR`` (a temporary folder by default)
unless ``DIR`` already holds learnwares, which are then searched as they are (``n`` in the output
is the dock's size).

Timed, after one untimed search per user and case (index loaded, task RKME fitted), ``--repeats``
searches per user of each case, ``Dock.search(query, k=5, ...)``:

* ``statistical``: a :class:`~modelreuse.task.Task` of the user's rows, with p-values;
* ``statistical_no_calibration``: the same, ``calibrate=False`` (ranking only);
* ``spec_only``: the task's RKME alone (what ``POST /api/v1/search/spec`` searches), with p-values;
* ``mixture``: ``method="mixture"`` on the Task, with its p-value.

Prints JSON: per case p50/p99/mean in milliseconds, ``n``, the machine's load average before and
after (other work shares the cores) and the command. To compare two versions of the code on the same
queries, ``--specs DIR`` keeps each user's task RKME in ``DIR`` (fitted and saved by the first run,
loaded by the next), and ``--rankings FILE`` writes every case's ranking per user (ids, scores,
p-values).

    python benchmarks/search_latency.py --n 1000 --dock /tmp/dock1000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from modelreuse.bench.dock_scale import COLUMNS, build_and_submit, plan_learnware, station_tables, user_table
from modelreuse.dock import Dock
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CASES = {
    "statistical": lambda task: (task, {}),
    "statistical_no_calibration": lambda task: (task, {"calibrate": False}),
    "spec_only": lambda task: (task.rkme, {}),
    "mixture": lambda task: (task, {"method": "mixture"}),
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="learnwares to build (default 1000)")
    parser.add_argument("--dock", type=Path, help="dock folder, reused when it holds learnwares")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("MODELREUSE_DATA", DATA)))
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=1, help="processes building packages")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--specs", type=Path, help="keep (or reuse) the users' task RKMEs in this folder")
    parser.add_argument("--rankings", type=Path, help="also write every ranking here (JSON)")
    args = parser.parse_args(argv)
    out = args.dock or Path(tempfile.mkdtemp(prefix="search-latency-"))
    load_before = os.getloadavg()
    tables = station_tables(args.data)
    dock = Dock(out)
    if len(dock) == 0:
        build_and_submit(dock, out, tables, [plan_learnware(tables, i, args.seed) for i in range(args.n)], args.jobs)
    n = len(dock)
    users = np.random.default_rng(args.seed).choice(n, min(args.users, n), replace=False)
    tasks = [user_task(tables, int(i), args.seed, args.specs) for i in users]
    times, rankings = time_cases(Dock(out), tasks, args.repeats)
    report = {"n": n, "dock": str(out), "users": len(tasks), "repeats": args.repeats,
              **{f"{case}_{q}_ms": v for case, ms in times.items() for q, v in _summary(ms).items()},
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "cpus": os.cpu_count(),
              "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}
    if args.rankings:
        args.rankings.write_text(json.dumps(rankings, indent=1))
    print(json.dumps(report, indent=1))
    return report


def user_task(tables: list, i: int, seed: int, specs: Path | None) -> Task:
    """The task of user ``i`` (the held-out rows of learnware ``i``'s window); with ``specs``, its
    RKME is the one saved there (saved on first use)."""
    X = user_table(tables, plan_learnware(tables, i, seed)).to_numpy(float)
    task = Task(X=X, feature_names=COLUMNS, task_type="regression")
    if specs is None:
        return task
    path = specs / f"user{i}.npz"
    if not path.exists():
        specs.mkdir(parents=True, exist_ok=True)
        task.rkme.save(path)
    return Task(X=X, feature_names=COLUMNS, task_type="regression", _rkme=RKMESpec.load(path))


def time_cases(dock: Dock, tasks: list[Task], repeats: int) -> tuple[dict[str, list[float]], dict[str, list]]:
    """Per case, the milliseconds of every timed search, and the ranking of each user."""
    times: dict[str, list[float]] = {case: [] for case in CASES}
    rankings: dict[str, list] = {case: [] for case in CASES}
    for task in tasks:
        for case, make in CASES.items():
            query, kwargs = make(task)
            rankings[case].append(_entries(dock.search(query, k=5, **kwargs)))  # untimed warm-up
            for _ in range(repeats):
                start = time.perf_counter()
                dock.search(query, k=5, **kwargs)
                times[case].append((time.perf_counter() - start) * 1000)
    return times, rankings


def _entries(ranking) -> dict:
    return {"details": ranking.details,
            "entries": [[e.learnware_id, e.score, e.details.get("p_value")] for e in ranking]}


def _summary(ms: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(ms, 50)), 3), "p99": round(float(np.percentile(ms, 99)), 3),
            "mean": round(float(np.mean(ms)), 3)}


if __name__ == "__main__":
    main()

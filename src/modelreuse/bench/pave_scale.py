"""``modelreuse bench pave-scale``: parameter (PAVE) search in a dock of ``N`` learnwares.

Issue 18's speed goal: a warm search among 10,000 PAVE specs in at most 20 ms on 2 cores.

Market: ``N`` text learnwares whose PAVE model vectors lie on the dock's own text base adapter
(:meth:`Dock.pave_base`, MiniLM, rank 16), in ``N / 10`` clusters: centre ``c`` (seeded standard
normal) plus :data:`NOISE` times seeded standard normal noise, so a task vector drawn the same way
around one centre has about ten learnwares at cosine ~0.5 and the rest near 0. The vectors are
drawn, not fitted: fitting 10,000 real model vectors would take days on 2 cores, and a search's
cost depends only on the vectors' length and count, not on where they came from (the fitted
vectors' quality is what ``bench pave`` measures). Every package is a copy of one template
learnware (a logistic regression over MiniLM features) with its own ``specs/pave.npz``;
packages are submitted with ``Dock.submit_many(validate=False)`` in batches of :data:`BATCH`, and
a dock that already holds learnwares is topped up to ``N``.

Measured in a new process (``process_s``: its whole run, interpreter start and imports included):
``Dock(DIR)`` and one cold search (the persisted index loaded, or built when missing), then
``queries`` task vectors searched ``repeats`` times each with ``Dock.search(spec,
method="parameter", k=10)``: warm p50/p99/mean in milliseconds; how often the default prefilter's
top-1 equals an exhaustive search's (``prefilter=N``); vector length, bytes per spec file and
index bytes per learnware.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from modelreuse.bench.report import DictReport
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.encoders import TEXT_ENCODER
from modelreuse.specs.pave import PAVESpec

NOISE = 1.0
BATCH = 500
K = 10


def run(root: Path, n: int, *, queries: int = 100, repeats: int = 3) -> DictReport:
    """Top the dock at ``root`` up to ``n`` PAVE learnwares (module doc), then measure it in a new
    process; the report holds both phases."""
    started = time.perf_counter()
    dock = Dock(root)
    added = max(0, n - len(dock))
    if added:
        work = root.parent / f"{root.name}-packages"
        _top_up(dock, n, work)
        shutil.rmtree(work, ignore_errors=True)
    build_s = time.perf_counter() - started
    command = [sys.executable, "-m", "modelreuse.bench.pave_scale", str(root), str(queries), str(repeats)]
    started = time.perf_counter()
    measured = subprocess.run(command, capture_output=True, text=True, check=True)
    report = {**json.loads(measured.stdout), "process_s": time.perf_counter() - started}
    report["build"] = {"learnwares_added": added, "seconds": build_s,
                       "learnwares_per_s": added / build_s if added else None}
    return DictReport(report)


def _centres(length: int, n: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((max(1, n // 10), length)).astype(np.float32)


def _top_up(dock: Dock, n: int, work: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    base = dock.pave_base("text")
    centres = _centres(base.vector_length, n)
    rng = np.random.default_rng(1)
    model = LogisticRegression().fit(rng.standard_normal((20, 384)), np.arange(20) % 2)
    template = Learnware.build(work / "template", model, specs=[_spec(centres[0], base, "model")],
                               name="pave-scale market", task_type="classification", modality="text",
                               classes=[0, 1], n_features=384, encoder=TEXT_ENCODER)
    rng = np.random.default_rng([1, len(dock)])  # a top-up continues with fresh draws
    for lo in range(len(dock), n, BATCH):
        folders = []
        for i in range(lo, min(n, lo + BATCH)):
            folder = work / f"lw{i}"
            shutil.copytree(template.root, folder)
            vector = centres[i % len(centres)] + NOISE * rng.standard_normal(base.vector_length)
            _spec(vector, base, "model").save(folder / "specs" / "pave.npz")
            folders.append(folder)
        dock.submit_many(folders, validate=False)
        for folder in folders:
            shutil.rmtree(folder)
        print(f"pave-scale: {len(dock)} learnwares", file=sys.stderr, flush=True)


def _spec(vector: np.ndarray, base, role: str) -> PAVESpec:
    return PAVESpec.from_vector(vector, base, steps=1, role=role, n_classes=2)


def measure(root: Path, queries: int, repeats: int) -> dict:
    """The new process's measurements (module doc)."""
    opened_at = time.perf_counter()
    dock = Dock(root)
    base = dock.pave_base("text")
    n = len(dock)
    centres = _centres(base.vector_length, n)
    rng = np.random.default_rng(2)
    tasks = [_spec(centres[q % len(centres)] + NOISE * rng.standard_normal(base.vector_length), base, "task")
             for q in range(queries)]
    started = time.perf_counter()
    first = dock.search(tasks[0], method="parameter", k=K)
    cold_ms = (time.perf_counter() - started) * 1e3
    seconds = []
    for task in tasks:
        for _ in range(repeats):
            t = time.perf_counter()
            dock.search(task, method="parameter", k=K)
            seconds.append(time.perf_counter() - t)
    same = sum(dock.search(t, method="parameter", k=1).ids == dock.search(t, method="parameter", k=1, prefilter=n).ids
               for t in tasks)
    folder = dock.pave_index.folder
    ms = np.array(seconds) * 1e3
    return {
        "n": n, "queries": queries, "repeats": repeats, "k": K,
        "warm_search_ms": {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                           "mean": float(ms.mean())},
        "goal_warm_search_ms": 20.0, "goal_met": bool(np.percentile(ms, 50) <= 20.0),
        "cold_first_search_ms": cold_ms, "open_dock_s": started - opened_at,
        "top1_same_as_exhaustive": f"{same}/{queries}",
        "vector_length": base.vector_length,
        "spec_file_bytes": (dock.get(first.ids[0]).root / "specs" / "pave.npz").stat().st_size,
        "index_bytes_per_learnware": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / n,
        "load_average": list(os.getloadavg()), "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))

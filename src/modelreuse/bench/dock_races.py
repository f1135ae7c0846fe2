"""Concurrency and crash harness of the dock: ``modelreuse bench dock-races``.

Real processes (forked, each opening the dock itself) against a real SQLite file or PostgreSQL
server, with real packages built from the Beijing air-quality stations:

* **submit storm**: ``submitters`` processes submit at the same instant (a barrier releases them)
  either one and the same package or one package each, on a fresh root (every process creates the
  dock at once) or an existing one, while ``searchers`` processes search in a loop;
* **remove vs re-submit**: one process removes a learnware while another submits the same content;
* **kill -9**: a process submitting (with or without sandboxed validation) or removing is killed
  at a seeded random moment within the operation's measured duration.

Each scenario is verified from the outside: ``lost`` = acknowledged ids that are not listed or do
not load; ``duplicated`` = one package stored under two rows; ``corrupt`` = problems reported by
:meth:`Dock.check`; ``untyped`` = errors that are not :class:`ModelReuseError`. Kill trials report
the crash leftovers found before repair and the problems left after ``check(repair=True)``, plus
any process still running that mentions the dock root (a validation child that outlived its parent).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelreuse.bench.postgres import fresh_database
from modelreuse.bench.report import Report
from modelreuse.errors import ModelReuseError

_CTX = mp.get_context("fork")


# ---------------------------------------------------------------------- packages
def build_packages(out: Path, data_root: Path, n: int, rows: int = 300) -> list[Path]:
    """``n`` distinct real regression learnwares (Ridge + RKME) over the Beijing stations' rows,
    written as directories under ``out``; station ``i % 12`` with Ridge ``alpha = 1 + i // 12``."""
    from sklearn.linear_model import Ridge

    from modelreuse.learnware import Learnware
    from modelreuse.models.table_schema import TableSchema
    from modelreuse.models.tabular import list_tables, read_table
    from modelreuse.specs.rkme import RKMESpec

    tables = [read_table(p) for p in list_tables(Path(data_root) / "tabular" / "beijing_air_quality")]
    tables = [t[np.isfinite(t["PM2.5"].to_numpy(dtype=float))].iloc[:rows].reset_index(drop=True) for t in tables]
    encoder = TableSchema.infer(tables, target="PM2.5")
    packages = []
    for i in range(n):
        table = tables[i % len(tables)]
        X, y = np.nan_to_num(encoder.encode(table)), table["PM2.5"].to_numpy(dtype=float)
        lw = Learnware.build(out / f"lw{i:03d}", Ridge(alpha=1.0 + i // len(tables)).fit(X, y), RKMESpec.fit(X, m=10),
                             name=f"station-{i}", task_type="regression", target="PM2.5",
                             feature_names=list(encoder.feature_names))
        packages.append(lw.root)
    return packages


# ---------------------------------------------------------------------- workers (run in forked processes)
def _submit(root: str, url: str | None, package: str, validate: bool, barrier, out) -> None:
    from modelreuse.dock import Dock

    if barrier is not None:
        barrier.wait()
    try:
        out.put(("ok", Dock(root, url=url).submit(package, validate=validate)))
    except ModelReuseError as exc:
        out.put((type(exc).__name__, str(exc)[:200]))
    except Exception as exc:  # counted as untyped: a defect
        out.put((f"untyped:{type(exc).__name__}", str(exc)[:200]))


def _remove(root: str, url: str | None, learnware_id: str, barrier, out) -> None:
    from modelreuse.dock import Dock

    if barrier is not None:
        barrier.wait()
    try:
        Dock(root, url=url).remove(learnware_id)
        out.put(("removed", learnware_id))
    except ModelReuseError as exc:
        out.put((type(exc).__name__, str(exc)[:200]))
    except Exception as exc:
        out.put((f"untyped:{type(exc).__name__}", str(exc)[:200]))


def _search(root: str, url: str | None, spec_path: str, duration_s: float, barrier, out) -> None:
    from modelreuse.dock import Dock
    from modelreuse.specs.rkme import RKMESpec

    barrier.wait()
    spec, counts, dock = RKMESpec.load(spec_path), Counter(), None
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        try:
            dock = dock or Dock(root, url=url)
            dock.search(spec, k=3)
            counts["ok"] += 1
        except ModelReuseError as exc:
            counts[type(exc).__name__] += 1
            time.sleep(0.05)
        except Exception as exc:
            counts[f"untyped:{type(exc).__name__}"] += 1
    out.put(("searches", dict(counts)))


# ---------------------------------------------------------------------- scenarios
def submit_storm(root: Path, url: str | None, packages: list[Path], *, submitters: int, searchers: int,
                 same_package: bool, search_spec: Path | None = None, search_s: float = 5.0,
                 validate: bool = False) -> dict:
    """``submitters`` processes submit at once (module doc); returns outcomes and verification."""
    chosen = [packages[0]] * submitters if same_package else [packages[i % len(packages)] for i in range(submitters)]
    n_searchers = searchers if search_spec is not None else 0
    barrier, out = _CTX.Barrier(submitters + n_searchers), _CTX.Queue()
    procs = [_CTX.Process(target=_submit, args=(str(root), url, str(p), validate, barrier, out)) for p in chosen]
    procs += [_CTX.Process(target=_search, args=(str(root), url, str(search_spec), search_s, barrier, out))
              for _ in range(n_searchers)]
    results = _run_all(procs, out)
    submits = [r for r in results if r[0] != "searches"]
    searches = sum((Counter(r[1]) for r in results if r[0] == "searches"), Counter())
    acknowledged = {r[1] for r in submits if r[0] == "ok"}
    expected = 1 if same_package else len(set(chosen))
    return {"submitters": submitters, "searchers": n_searchers, "same_package": same_package,
            "outcomes": dict(Counter(r[0] for r in submits)), "searches": dict(searches),
            "acknowledged": len(acknowledged), "expected_stored": expected,
            **verify(root, url, acknowledged),
            "untyped": sum(v for k, v in Counter(r[0] for r in submits).items() if k.startswith("untyped"))
            + sum(v for k, v in searches.items() if k.startswith("untyped"))}


def remove_vs_resubmit(root: Path, url: str | None, package: Path, rounds: int) -> dict:
    """Each round: store ``package``, then race its removal against a re-submit of the same content."""
    from modelreuse.dock import Dock

    outcomes: Counter = Counter()
    rows_without_files = 0
    for _ in range(rounds):
        dock = Dock(root, url=url)
        if not dock.list():
            dock.submit(package, validate=False)
        learnware_id = dock.list()[0]["id"]
        barrier, out = _CTX.Barrier(2), _CTX.Queue()
        procs = [_CTX.Process(target=_remove, args=(str(root), url, learnware_id, barrier, out)),
                 _CTX.Process(target=_submit, args=(str(root), url, str(package), False, barrier, out))]
        outcomes.update(r[0] for r in _run_all(procs, out))
        report = Dock(root, url=url).check()
        rows_without_files += len(report.missing_objects) + len(report.corrupt_objects)
    return {"rounds": rounds, "outcomes": dict(outcomes), "rows_without_files": rows_without_files,
            "untyped": sum(v for k, v in outcomes.items() if k.startswith("untyped"))}


KILLED_OPERATIONS = ("submit", "submit-validated", "remove")


def kill_trials(root: Path, url: str | None, packages: list[Path], trials: int, seed: int = 0,
                operations: tuple[str, ...] = KILLED_OPERATIONS) -> dict:
    """``trials`` operations (cycling through ``operations``) killed with SIGKILL at a seeded random
    moment (module doc)."""
    from modelreuse.dock import Dock

    rng = random.Random(seed)
    durations = {op: _time_operation(root, url, packages, op) for op in operations}
    found: Counter = Counter()
    rows_without_files = 0
    for trial in range(trials):
        op = operations[trial % len(operations)]
        proc = _start_operation(root, url, packages, op, rng)
        time.sleep(rng.uniform(0.0, 1.2 * durations[op]))
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        dock = Dock(root, url=url)
        report = dock.check()
        rows_without_files += len(report.missing_objects) + len(report.corrupt_objects)
        found.update({k: len(v) for k, v in report.to_dict().items() if isinstance(v, list) and v})
        dock.check(repair=True)
    time.sleep(1.0)  # let the kernel deliver parent-death signals
    final = Dock(root, url=url).check()
    return {"trials": trials, "operation_s": {k: round(v, 3) for k, v in durations.items()},
            "rows_without_files": rows_without_files, "leftovers_found_before_repair": dict(found),
            "problems_after_repair": final.problems, "stray_processes": len(_processes_mentioning(root))}


def _time_operation(root: Path, url: str | None, packages: list[Path], op: str) -> float:
    start = time.monotonic()
    proc = _start_operation(root, url, packages, op, random.Random(0))
    proc.join()
    return time.monotonic() - start


def _start_operation(root: Path, url: str | None, packages: list[Path], op: str, rng: random.Random):
    """Start one submit (of a package not in the dock) or remove (of one that is) in a child."""
    from modelreuse.dock import Dock

    dock = Dock(root, url=url)
    stored = {c["name"]: c["id"] for c in dock.list()}
    names = {p: f"station-{int(p.name[2:])}" for p in packages}
    if op == "remove":
        if not stored:
            dock.submit(packages[0], validate=False)
            stored = {c["name"]: c["id"] for c in dock.list()}
        target = rng.choice(sorted(stored.values()))
        proc = _CTX.Process(target=_remove, args=(str(root), url, target, None, _CTX.Queue()))
    else:
        missing = [p for p in packages if names[p] not in stored] or packages
        package = rng.choice(missing)
        proc = _CTX.Process(target=_submit, args=(str(root), url, str(package), op == "submit-validated", None,
                                                   _CTX.Queue()))
    proc.start()
    return proc


def _run_all(procs: list, out, timeout_s: float = 600.0) -> list[tuple]:
    for p in procs:
        p.start()
    results = [out.get(timeout=timeout_s) for _ in procs]
    for p in procs:
        p.join(timeout_s)
    return results


def verify(root: Path, url: str | None, acknowledged: set[str]) -> dict:
    """Lost, duplicated and corrupt counts of a dock after a scenario (module doc)."""
    from modelreuse.dock import Dock

    dock = Dock(root, url=url)
    cards = dock.list()
    listed = {c["id"] for c in cards}
    unloadable = 0
    for learnware_id in acknowledged & listed:
        try:
            dock.load_model(learnware_id)
        except ModelReuseError:
            unloadable += 1
    names = Counter(c["name"] for c in cards)
    return {"stored": len(cards), "lost": len(acknowledged - listed) + unloadable,
            "duplicated": sum(n - 1 for n in names.values() if n > 1), "corrupt": dock.check().problems}


def _processes_mentioning(root: Path) -> list[int]:
    """Pids of live processes whose command line mentions ``root`` or runs the validation sandbox
    (none should outlive a trial; run the benchmark alone, as other submits would count too)."""
    from modelreuse.dock import sandbox

    needles, pids = (str(Path(root).resolve()).encode(), str(Path(sandbox.__file__).resolve()).encode()), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if any(needle in cmdline for needle in needles):
                pids.append(int(entry.name))
    return pids


# ---------------------------------------------------------------------- the benchmark
@dataclass
class DockRacesReport(Report):
    """Per backend (``sqlite``, ``postgresql``): the storms, the remove-vs-resubmit races, the kill
    trials and the storms' totals (module doc); every defect count should be 0."""

    submitters: int
    searchers: int
    seed: int
    backends: dict[str, dict[str, Any]]

    def defects(self, backend: str) -> dict[str, int]:
        """Every count on ``backend`` that is a defect when not 0."""
        b = self.backends[backend]
        return {**b["totals"], "race_rows_without_files": b["remove_vs_resubmit"]["rows_without_files"],
                "race_untyped": b["remove_vs_resubmit"]["untyped"],
                "kill_rows_without_files": b["kill"]["rows_without_files"],
                "kill_problems_after_repair": b["kill"]["problems_after_repair"],
                "kill_stray_processes": b["kill"]["stray_processes"]}

    def render(self) -> list:
        """One row per backend with every defect count (all should be 0)."""
        from rich.table import Table

        keys = list(self.defects(next(iter(self.backends)))) if self.backends else []
        table = Table("backend", *(k.replace("_", " ") for k in keys),
                      title=f"dock races: {self.submitters} submitters, {self.searchers} searchers, seed {self.seed}")
        for backend in self.backends:
            table.add_row(backend, *(str(v) for v in self.defects(backend).values()))
        return [table]


def run(data_root: Path, work: Path, *, postgres: bool, submitters: int = 8, searchers: int = 4,
        rounds: int = 2, kill: int = 21, seed: int = 0, search_s: float = 5.0) -> DockRacesReport:
    """Every scenario on SQLite (and PostgreSQL when ``postgres``)."""
    from contextlib import nullcontext

    from modelreuse.bench.postgres import throwaway_postgres
    from modelreuse.learnware import Learnware
    from modelreuse.specs.rkme import RKMESpec

    packages = build_packages(work / "packages", data_root, submitters + 1)  # the last one pre-fills "existing" roots
    spec_path = work / "search-spec.npz"
    RKMESpec.save(Learnware.open(packages[0]).rkme, spec_path)
    backends = {}
    for backend in ["sqlite", "postgresql"] if postgres else ["sqlite"]:
        with (throwaway_postgres(max_connections=200) if backend == "postgresql" else nullcontext(None)) as server:
            backends[backend] = _backend(work / backend, server, packages, spec_path, submitters, searchers, rounds,
                                         kill, seed, search_s)
    return DockRacesReport(submitters, searchers, seed, backends)


def _backend(work: Path, server_url: str | None, packages: list[Path], spec_path: Path, submitters: int,
             searchers: int, rounds: int, kill: int, seed: int, search_s: float) -> dict:
    scenarios = []
    for i, (same, fresh) in enumerate([(s, f) for s in (True, False) for f in (True, False)] * rounds):
        root = work / f"storm{i}"
        url = fresh_database(server_url, f"storm{i}")
        if not fresh:  # an existing dock already holding a learnware
            _submit_in_process(root, url, packages[-1])
        result = submit_storm(root, url, packages[:-1], submitters=submitters,
                              searchers=searchers, same_package=same, search_spec=spec_path, search_s=search_s)
        result["expected_stored"] += 0 if fresh else 1
        scenarios.append({"same_package": same, "fresh_root": fresh, **result})
    return {"storms": scenarios,
            "remove_vs_resubmit": remove_vs_resubmit(work / "race", fresh_database(server_url, "race"), packages[0],
                                                     rounds=4 * rounds),
            "kill": kill_trials(work / "kill", fresh_database(server_url, "kill"), packages, kill, seed),
            "totals": _totals(scenarios)}


def _submit_in_process(root: Path, url: str | None, package: Path) -> None:
    from modelreuse.dock import Dock

    Dock(root, url=url).submit(package, validate=False)


def _totals(scenarios: list[dict]) -> dict:
    return {key: sum(s[key] for s in scenarios) for key in ("lost", "duplicated", "corrupt", "untyped")}


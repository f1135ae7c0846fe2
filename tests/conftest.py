"""Shared fixtures: real per-site data from ../shared/data (or $MODELREUSE_DATA).

Under pytest-xdist each worker gets its share of the cores for the OpenMP and BLAS thread pools
(scikit-learn's histogram gradient boosting, torch, faiss, OpenBLAS), set here before any of them
is imported and inherited by the servers and CLIs the tests start. Without it every
worker's pools are as wide as the machine; OpenMP threads busy-wait for each other, so on an
oversubscribed machine (``-n 2`` on two cores, or a shared one) gradient-boosting fits and torch
steps ran a hundred times slower. An explicit ``OMP_NUM_THREADS`` (or either other variable) is kept.
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # this process is a pytest-xdist worker
    _share = max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_pool, str(_share))

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from modelreuse.learnware import Learnware
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import impute_means, list_tables, read_table
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec

DATA = Path(os.environ.get("MODELREUSE_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
BEIJING = DATA / "tabular" / "beijing_air_quality"
SITES = ("Aotizhongxin", "Changping", "Huairou", "Wanliu")
ROWS = 1200


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not BEIJING.is_dir():
        pytest.fail(f"shared data not found at {DATA}; set MODELREUSE_DATA")
    return DATA


@pytest.fixture(scope="session")
def beijing(data_root) -> dict:
    """Four real Beijing stations, ``ROWS`` rows each: encoded features X, PM2.5 target y."""
    paths = [p for p in list_tables(BEIJING) if any(s in p.name for s in SITES)]
    rng = np.random.default_rng(0)
    tables = []
    for p in paths:
        t = read_table(p)
        tables.append(t.iloc[rng.choice(len(t), ROWS, replace=False)].reset_index(drop=True))  # shuffled
    enc = TableSchema.infer(tables, target="PM2.5")
    out = {}
    for p, t in zip(paths, tables):
        y = pd.to_numeric(t["PM2.5"], errors="coerce").to_numpy()
        keep = np.isfinite(y)
        out[p.name.split("_")[2]] = {"X": enc.encode(t)[keep], "y": y[keep]}
    out["_feature_names"] = enc.feature_names
    return out


def build_site_learnware(directory: Path, site: str, data: dict, names: list[str],
                         leaderboard: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> Learnware:
    """Train a real learnware on the first half of a site's rows; with ``leaderboard`` (dataset name ->
    ``(X, y)``), attach a records spec with the model's measured RMSE on each of those datasets."""
    X, y = data["X"], data["y"]
    half = len(X) // 2
    est = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(X[:half], y[:half])
    rkme = RKMESpec.fit(impute_means(X[:half]), m=40, max_iter=10)
    records = None
    if leaderboard:
        rows = [{"dataset": name, "task": "PM2.5 regression", "metric": "rmse", "source": "beijing",
                 "score": float(np.sqrt(np.mean((est.predict(Xe) - ye) ** 2)))} for name, (Xe, ye) in leaderboard.items()]
        records = RecordsSpec(rows, family="hist_gradient_boosting")
    return Learnware.build(directory / site, est, rkme, name=site, task_type="regression",
                           description=f"PM2.5 model for the {site} station", tags=["air", "beijing"],
                           target="PM2.5", feature_names=names, records=records)


@pytest.fixture(scope="session")
def site_learnwares(beijing, tmp_path_factory) -> dict[str, Learnware]:
    root = tmp_path_factory.mktemp("learnwares")
    return {s: build_site_learnware(root, s, beijing[s], beijing["_feature_names"]) for s in SITES}


@pytest.fixture(scope="session")
def filled_dock(site_learnwares, tmp_path_factory):
    """A dock holding the four station learnwares (validated in the sandbox)."""
    from modelreuse.dock import Dock

    dock = Dock(tmp_path_factory.mktemp("dock"))
    ids = dock.submit_many(list(site_learnwares.values()))
    return dock, dict(zip(site_learnwares, ids))


def user_half(beijing: dict, site: str) -> tuple[np.ndarray, np.ndarray]:
    """The second half of a site's rows (never seen by its learnware), imputed."""
    X, y = beijing[site]["X"], beijing[site]["y"]
    half = len(X) // 2
    return impute_means(X[half:]), y[half:]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session (Debian ``postgresql``; skipped when its
    binaries are missing, unless MODELREUSE_REQUIRE_POSTGRES=1, as in CI)."""
    from modelreuse.bench.postgres import postgres_available, throwaway_postgres

    if not postgres_available():
        if os.environ.get("MODELREUSE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL server binaries not found (apt-get install postgresql)")
        pytest.skip("PostgreSQL server binaries not installed")
    with throwaway_postgres() as url:
        yield url

"""Market benchmark on per-site data: one developer and one user per site, on the public table path.

Protocol (``modelreuse bench market``). Every site table is shuffled with ``seed`` and split
50% developer / 30% user / 20% test (capped at ``max_rows`` rows per site). The sites share one
table schema (:meth:`~modelreuse.models.table_schema.TableSchema.infer` over all tables: the
developers of one market agree on their columns).

* Developer: a scikit-learn pipeline on the raw columns (numeric columns passed through, the
  schema's categories one-hot encoded, histogram gradient boosting with native missing values;
  for ``--text-column``, the same booster on the MiniLM embedding), packaged with
  ``Learnware.build(table=developer_rows, schema=...)`` (RKME on the schema encoding, missing cells
  filled by the developer's own means) and submitted to a fresh dock (sandboxed validation).
* User: ``shots`` labelled rows plus the unlabelled rest of the user split, as a DataFrame with
  its missing cells, through ``Client.fit`` (search, then reuse) once per registered reuser
  (:data:`modelreuse.reuse.base.REUSERS`) and once with ``auto``; each model predicts the site's
  raw test rows.
* Baselines: ``oracle`` = the best single learnware on that user's test rows; ``scratch`` = a
  random forest (200 trees) trained on the ``shots`` labelled rows only (the ``own_rows`` reuser).

* ``spec="pave"`` (text classification sites, ``--text-column``): every learnware also carries a
  PAVE model vector (:meth:`~modelreuse.specs.pave.PAVESpec.fit_model` on the dock's text base,
  over the developer's texts); the user's identification ranking (``own_rank``, ``top1``) is
  ``Dock.search(task vector, method="parameter")`` with the task vector of the labelled rows (as
  many per class as the smallest class has, at most 16), and ``Client.fit`` gets the raw texts, so
  it identifies by PAVE too (its ``explain()`` says so). Mixture weights and the calibrated
  "nothing fits" answers stay RKME's.

* Abstention (modelreuse.selection.calibration): every user is also searched with its own site in
  the dock and with it left out. ``nothing_fits_rate`` is the out-of-dock rate with
  ``exclude_own_site`` (how often a user whose site is missing is told nothing fits) and the
  in-dock rate (false alarms) without it; both rates are always reported, plus
  ``out_of_dock_acceptable_rate``: nothing fits, or the top-1 learnware's test score is within
  0.02 of the oracle's.

Scores are higher-is-better: accuracy (classification) or R^2 (regression).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from modelreuse.bench.report import Report
from modelreuse.client import Client
from modelreuse.config import Progress
from modelreuse.dock import Dock
from modelreuse.errors import InvalidTaskDataError
from modelreuse.learnware import Learnware
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import impute_means, list_tables, read_table
from modelreuse.reuse.base import REUSERS, task_score
from modelreuse.specs.pave import DEFAULT_K, PAVESpec
from modelreuse.task import Task

SPECS = ("rkme", "pave")


def reuser_names(task_type: str) -> list[str]:
    """Every registered reuser that supports ``task_type``, then ``auto`` (AutoReuser's own choice)."""
    return [name for name in REUSERS.names() if task_type in REUSERS.metadata(name)["task_types"]] + ["auto"]


@dataclass
class MarketReport(Report):
    """The market benchmark's result (module doc): rates over users, mean test score per reuser,
    the oracle and scratch baselines, search/spec latencies, and one row per user site."""

    exclude_own_site: bool
    nothing_fits_rate: float
    nothing_fits_rate_in_dock: float
    nothing_fits_rate_out_of_dock: float
    out_of_dock_acceptable_rate: float
    sites: str
    target: str
    task: str
    shots: int
    seed: int
    n_learnwares: int
    top1_hit_rate: float
    mean_rank_of_own_site: float
    reusers: dict[str, float]
    mean_oracle_score: float
    mean_scratch_score: float
    search_ms_p50: float
    spec_build_ms_p50: float
    users: list[dict[str, Any]]
    rescale_features_seed: int | None = None
    spec: str = "rkme"

    def render(self) -> list:
        """The summary as JSON, then a table of mean score per reuser and one row per user site."""
        from rich.json import JSON
        from rich.table import Table

        summary = {k: v for k, v in self.to_dict().items() if k not in ("users", "reusers")}
        reusers = Table("reuser", "mean score")
        for name, value in self.reusers.items():
            reusers.add_row(name, f"{value:.4f}")
        reusers.add_row("oracle (best single)", f"{self.mean_oracle_score:.4f}")
        reusers.add_row("scratch", f"{self.mean_scratch_score:.4f}")
        users = Table("user site", "own rank", "top-1 found", "auto reuser", "auto score", "oracle", "scratch")
        for u in self.users:
            users.add_row(u["site"], str(u["own_rank"]), u["top1"], u["auto_choice"], f"{u['reusers']['auto']:.3f}",
                          f"{u['oracle']:.3f}", f"{u['scratch']:.3f}")
        return [JSON(json.dumps(summary)), reusers, users]


def load_sites(sites_dir: str | Path, target: str, task: str, text_column: str | None = None,
               bins: list[float] | None = None, max_rows: int = 10000, seed: int = 0,
               rescale_seed: int | None = None) -> tuple[list[dict], TableSchema]:
    """Read and split every site table; returns one dict per site (its raw ``table`` without the
    target, labels ``y``, and ``dev``/``user``/``test`` row indices) and the shared schema.

    ``rescale_seed``: apply one random affine map ``x -> a x + b`` per numeric column (``a``
    log-uniform in [e^-3, e^3], ``b ~ N(0, 100^2)``), the same for every site, to the raw tables.
    """
    paths = list_tables(sites_dir)
    rng = np.random.default_rng(seed)
    tables = []
    for p in paths:
        t = read_table(p)
        if len(t) > max_rows:
            t = t.iloc[np.sort(rng.choice(len(t), max_rows, replace=False))].reset_index(drop=True)
        tables.append(t)
    schema = TableSchema.infer(tables, target=target, text_column=text_column)
    if rescale_seed is not None:
        tables = _rescaled(tables, schema, rescale_seed)
    sites = []
    for name, table in zip(short_names([p.name.split(".")[0] for p in paths]), tables):
        y = _target(table[target], task, bins)
        keep = ~pd.isna(y)
        table, y = table[keep].reset_index(drop=True), _labels(np.asarray(y[keep]), task)
        order = rng.permutation(len(table))
        n_dev, n_user = int(0.5 * len(order)), int(0.3 * len(order))
        sites.append({"name": name, "table": table.drop(columns=[target]), "y": y, "dev": order[:n_dev],
                      "user": order[n_dev : n_dev + n_user], "test": order[n_dev + n_user :]})
    return sites, schema


def short_names(names: list[str]) -> list[str]:
    """Drop the ``_``-separated tokens that every name shares at its start or end
    (``PRSA_Data_Dongsi_20130301-20170228`` -> ``Dongsi``), keeping names unique."""
    tokens = [n.split("_") for n in names]
    if len(tokens) < 2:
        return names
    while all(len(t) > 1 for t in tokens) and len({t[0] for t in tokens}) == 1:
        tokens = [t[1:] for t in tokens]
    while all(len(t) > 1 for t in tokens) and len({t[-1] for t in tokens}) == 1:
        tokens = [t[:-1] for t in tokens]
    short = ["_".join(t) for t in tokens]
    return short if len(set(short)) == len(short) else names


def run_market(sites_dir: str | Path, target: str, task: str = "regression", shots: int = 50, seed: int = 0,
               text_column: str | None = None, bins: list[float] | None = None, max_rows: int = 10000,
               dock_root: str | Path | None = None, progress: Progress | None = None, rescale_seed: int | None = None,
               exclude_own_site: bool = False, spec: str = "rkme") -> MarketReport:
    """Run the market benchmark (module doc); ``progress`` hears of each site trained and evaluated."""
    if task not in ("classification", "regression"):
        raise InvalidTaskDataError(f"--task must be classification or regression, got {task!r}")
    if spec not in SPECS or (spec == "pave" and (text_column is None or task != "classification")):
        raise InvalidTaskDataError(f"--spec must be one of {SPECS}; pave needs --text-column and "
                                   f"--task classification (got {spec!r}, {text_column!r}, {task!r})")
    sites, schema = load_sites(sites_dir, target, task, text_column, bins, max_rows, seed, rescale_seed)
    root = Path(dock_root) if dock_root else Path(tempfile.mkdtemp(prefix="market-dock-"))
    try:
        dock = Dock(root)
        base = dock.pave_base("text") if spec == "pave" else None
        packages = [_build_site_learnware(site, schema, task, seed, root, base)
                    for site in _each(sites, "training the learnware of site", progress)]
        ids = dock.submit_many(packages)
        learnware_of = {site["name"]: lid for site, lid in zip(sites, ids)}
        users = [_evaluate_user(dock, site, schema, task, shots, seed, learnware_of, base)
                 for site in _each(sites, "searching and reusing as the user of site", progress)]
        report = _summary(users, len(dock), task, shots, seed, str(sites_dir), target, exclude_own_site, rescale_seed)
        report.spec = spec
        return report
    finally:
        if dock_root is None:
            shutil.rmtree(root, ignore_errors=True)


def developer_model(schema: TableSchema, task: str, seed: int):
    """A histogram gradient booster (native missing values); for a table schema, behind a
    ColumnTransformer that passes numeric columns through and one-hot encodes the schema's
    categories, so the model takes raw columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    est = (HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor)(random_state=seed)
    if schema.encoder is not None:
        return est
    numeric = [c.name for c in schema.columns if c.type == "numeric"]
    categorical = [c for c in schema.columns if c.type == "categorical"]
    onehot = OneHotEncoder(categories=[c.categories for c in categorical], handle_unknown="ignore")
    columns = ColumnTransformer([("numeric", "passthrough", numeric),
                                 ("categorical", onehot, [c.name for c in categorical])])
    return Pipeline([("columns", columns), ("model", est)])


def _build_site_learnware(site: dict, schema: TableSchema, task: str, seed: int, root: Path,
                          base: Any = None) -> Learnware:
    """A site's learnware; with a PAVE ``base``, also its model vector over the developer's texts."""
    dev, y = site["table"].iloc[site["dev"]], site["y"][site["dev"]]
    model = developer_model(schema, task, seed)
    model.fit(schema.encode(dev) if schema.encoder else dev[schema.column_names], y)
    t0 = time.perf_counter()
    specs = [] if base is None else [PAVESpec.fit_model(model, _texts(dev, schema), base, encoder=base.base_model,
                                                        seed=seed)]
    lw = Learnware.build(
        root / "build" / site["name"], model, table=dev, schema=schema, name=site["name"], task_type=task,
        description=f"model trained on site {site['name']}", tags=["market-bench"], specs=specs,
        target=None if task == "classification" else "target")
    site["spec_build_ms_dev"] = 1000 * (time.perf_counter() - t0)
    return lw


def _evaluate_user(dock: Dock, site: dict, schema: TableSchema, task_type: str, shots: int, seed: int,
                   learnware_of: dict, base: Any = None) -> dict:
    """One user site: identification (by RKME, or by PAVE with a ``base``), reuse, baselines."""
    user, test = site["table"].iloc[site["user"]], site["table"].iloc[site["test"]]
    y_lab, y_test = site["y"][site["user"]][:shots], site["y"][site["test"]]
    t0 = time.perf_counter()
    task = Task(X=impute_means(schema.encode(user)), y=y_lab, task_type=task_type, seed=seed,
                feature_names=schema.feature_names, encoder=schema.encoder)
    query = task if base is None else _task_vector(_texts(user.iloc[:shots], schema), y_lab, base, seed)
    _ = task.rkme
    spec_ms = 1000 * (time.perf_counter() - t0)
    t0 = time.perf_counter()
    ranking = dock.search(query, method="statistical" if base is None else "parameter", k=len(learnware_of),
                          **({"calibrate": False} if base is None else {}))
    search_ms = 1000 * (time.perf_counter() - t0)
    mixture = dock.search(task, method="mixture")
    own_id = learnware_of[site["name"]]
    own_rank = ranking.ids.index(own_id) + 1 if own_id in ranking.ids else len(learnware_of) + 1
    row = {"site": site["name"], "own_rank": own_rank, "top1": ranking[0].name,
           "mixture": {e.name: round(e.weight, 3) for e in mixture}, "search_ms": search_ms,
           "spec_build_ms": spec_ms, "reusers": {}}
    client = Client(dock)
    as_rows = (lambda t: t) if base is None else (lambda t: _texts(t, schema))  # raw texts: Client.fit uses PAVE
    encoder = None if base is None else schema.encoder
    for name in reuser_names(task_type):
        model = client.fit((as_rows(user.iloc[:shots]), y_lab), unlabelled_data=as_rows(user.iloc[shots:]),
                           reuser=name, task_type=task_type, seed=seed, on_nothing_fits="reuse", encoder=encoder)
        row["reusers"][name] = task_score(task_type, y_test, model.predict(as_rows(test)))
        if name == "auto":
            row["auto_choice"] = model.reuser
    X_test = schema.encode(test)
    singles = {name: task_score(task_type, y_test, dock.load_model(lid).predict(X_test))
               for name, lid in learnware_of.items()}
    row["oracle"] = max(singles.values())
    row["oracle_site"] = max(singles, key=singles.get)
    row.update(_abstention(dock, task, own_id, singles, row["oracle"]))
    row["scratch"] = row["reusers"]["own_rows"]
    return row


def _texts(table: pd.DataFrame, schema: TableSchema) -> list[str]:
    """The text column of a text schema's table, as the schema encodes it (missing cells empty)."""
    return table[schema.columns[0].name].fillna("").astype(str).tolist()


def _task_vector(texts: list[str], y: np.ndarray, base: Any, seed: int) -> PAVESpec:
    """The PAVE task vector of the labelled texts: as many rows per class as the smallest class
    has, at most the paper's 16 (Client.fit's rule)."""
    per_class = int(min(DEFAULT_K, np.unique(np.asarray(y).astype(str), return_counts=True)[1].min()))
    return PAVESpec.fit_task(texts, y, base, k=per_class, seed=seed)


def _abstention(dock: Dock, task: Task, own_id: str, singles: dict, oracle: float) -> dict:
    """Calibrated answers with the own site in the dock and with it left out."""
    inside = dock.search(task, k=3)
    outside = dock.search(task, k=3, exclude=(own_id,))
    top_out = outside[0]
    return {
        "nothing_fits_in_dock": inside.details["nothing_fits"],
        "own_p_value": next((e.details["p_value"] for e in inside if e.learnware_id == own_id), 0.0),
        "nothing_fits_out_of_dock": outside.details["nothing_fits"],
        "out_of_dock_top1": top_out.name, "out_of_dock_top1_p_value": top_out.details["p_value"],
        "out_of_dock_top1_gap_to_oracle": oracle - singles[top_out.name],
    }


def _summary(users: list[dict], n_learnwares: int, task: str, shots: int, seed: int, sites: str, target: str,
             exclude_own_site: bool, rescale_seed: int | None) -> MarketReport:
    inside = float(np.mean([u["nothing_fits_in_dock"] for u in users]))
    outside = float(np.mean([u["nothing_fits_out_of_dock"] for u in users]))
    acceptable = float(np.mean([u["nothing_fits_out_of_dock"] or u["out_of_dock_top1_gap_to_oracle"] <= 0.02 for u in users]))
    return MarketReport(
        exclude_own_site=exclude_own_site,
        nothing_fits_rate=outside if exclude_own_site else inside,
        nothing_fits_rate_in_dock=inside, nothing_fits_rate_out_of_dock=outside,
        out_of_dock_acceptable_rate=acceptable,
        sites=sites, target=target, task=task, shots=shots, seed=seed,
        n_learnwares=n_learnwares,
        top1_hit_rate=float(np.mean([u["own_rank"] == 1 for u in users])),
        mean_rank_of_own_site=float(np.mean([u["own_rank"] for u in users])),
        reusers={name: float(np.mean([u["reusers"][name] for u in users])) for name in reuser_names(task)},
        mean_oracle_score=float(np.mean([u["oracle"] for u in users])),
        mean_scratch_score=float(np.mean([u["scratch"] for u in users])),
        search_ms_p50=float(np.median([u["search_ms"] for u in users])),
        spec_build_ms_p50=float(np.median([u["spec_build_ms"] for u in users])),
        users=users, rescale_features_seed=rescale_seed)


def _target(values: pd.Series, task: str, bins: list[float] | None) -> np.ndarray:
    if task == "regression" or bins:
        numeric = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
        if task == "regression":
            return numeric
        labels = np.digitize(numeric, bins).astype(object)
        labels[np.isnan(numeric)] = None
        return labels
    return values.astype("string").str.strip().to_numpy(dtype=object, na_value=None)


def _rescaled(tables: list[pd.DataFrame], schema: TableSchema, seed: int) -> list[pd.DataFrame]:
    """The tables with one random affine map per numeric schema column (see :func:`load_sites`)."""
    rng = np.random.default_rng(seed)
    numeric = [c.name for c in schema.columns if c.type == "numeric"]
    scale, shift = np.exp(rng.uniform(-3, 3, size=len(numeric))), rng.normal(0, 100, size=len(numeric))
    out = []
    for t in tables:
        t = t.copy()
        t[numeric] = t[numeric].apply(pd.to_numeric, errors="coerce") * scale + shift
        out.append(t)
    return out


def _labels(y: np.ndarray, task: str) -> np.ndarray:
    """Regression targets as float; class labels as int when all are integers, else str."""
    if task == "regression":
        return y.astype(np.float64)
    if all(isinstance(v, (int, np.integer)) for v in y):
        return y.astype(np.int64)
    return y.astype(str)


def _each(sites: list[dict], label: str, progress: Progress | None) -> Iterator[dict]:
    for i, site in enumerate(sites, 1):
        if progress is not None:
            progress(f"{label} {site['name']} ({i}/{len(sites)})")
        yield site

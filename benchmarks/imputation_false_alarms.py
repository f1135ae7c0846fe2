"""In-dock false alarms ("nothing fits" told to a user whose own site is docked) when the
developer and the user fill missing cells differently, through the public table path.

Data: the 12 Beijing air-quality stations (``$MODELREUSE_DATA/tabular/beijing_air_quality``),
``--max-rows`` rows each (seeded), split 50% developer / 30% user. One column is blanked at one
site (``--blank COL@SITE``, default ``CO`` at the first station) to reproduce per-site
missingness (a test a hospital does not run). One schema is shared by every site
(:meth:`TableSchema.infer` over all tables, target ``PM2.5``).

Developer: a scikit-learn pipeline on raw columns (an imputer that rotates over mean, median,
most-frequent and constant 0 across sites, one-hot ``wd``, histogram gradient boosting), built
with ``Learnware.build(table=..., schema=...)``. Its RKME is fitted on the schema encoding with
missing cells filled by the *spec imputer* under test; user: the same for its own rows. Spec
imputers: ``own_mean`` (the library's rule, :func:`modelreuse.models.tabular.impute_means`, on
both sides by default), ``own_median``, ``zero`` and ``market_mean`` (means over every site's
developer rows: the issue's failure, a side filling with statistics that are not its own). For each (developer, user) pair of spec
imputers the dock is searched with calibration (level ``alpha``) for every user with its own site
docked; reported: the false-alarm rate, the top-1 hit rate (own site ranked first) and the median
p-value of the own site. The library's path is the ``own_mean``/``own_mean`` cell: the
developer's model imputer does not enter the spec at all.

    python benchmarks/imputation_false_alarms.py [--max-rows 3000] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelreuse.bench.market import short_names
from modelreuse.config import default_data_root
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import impute_means, list_tables, read_table
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task

TARGET = "PM2.5"
MODEL_IMPUTERS = ("mean", "median", "most_frequent", "constant")


def impute_median(X: np.ndarray) -> np.ndarray:
    """Missing cells -> the column's median over these rows (0 for a column with no value)."""
    X = np.array(X, dtype=np.float64)
    medians = [np.median(col[~np.isnan(col)]) if (~np.isnan(col)).any() else 0.0 for col in X.T]
    return np.where(np.isnan(X), np.asarray(medians)[None, :], X)


def spec_imputers(sites: list[dict], schema: TableSchema) -> dict:
    """Each spec imputer by name: ``X -> X`` filled. ``market_mean`` uses the means over every
    site's developer rows, statistics a side could take from a public reference instead of its own rows."""
    market = np.nanmean(np.vstack([schema.encode(s["dev"]) for s in sites]), axis=0)
    return {"own_mean": impute_means, "own_median": impute_median, "zero": lambda X: np.nan_to_num(X, nan=0.0),
            "market_mean": lambda X: np.where(np.isnan(X), market[None, :], X)}


def load_sites(data_root: Path, max_rows: int, seed: int, blank: str) -> tuple[list[dict], TableSchema]:
    column, _, site = blank.partition("@")
    paths = list_tables(data_root / "tabular" / "beijing_air_quality")
    names = short_names([p.name.split(".")[0] for p in paths])
    rng = np.random.default_rng(seed)
    tables = []
    for name, path in zip(names, paths):
        t = read_table(path)
        t = t[t[TARGET].notna()]
        t = t.iloc[np.sort(rng.choice(len(t), min(max_rows, len(t)), replace=False))].reset_index(drop=True)
        if name == (site or names[0]):
            t[column] = np.nan
        tables.append(t)
    schema = TableSchema.infer(tables, target=TARGET)
    sites = []
    for name, t in zip(names, tables):
        order = rng.permutation(len(t))
        n_dev, n_user = len(t) // 2, int(0.3 * len(t))
        sites.append({"name": name, "dev": t.iloc[order[:n_dev]], "user": t.iloc[order[n_dev:n_dev + n_user]]})
    return sites, schema


def developer_model(dev, schema: TableSchema, imputer: str, seed: int):
    numeric = [c.name for c in schema.columns if c.type == "numeric"]
    categorical = [c.name for c in schema.columns if c.type == "categorical"]
    prep = make_column_transformer(
        (SimpleImputer(strategy=imputer, fill_value=0.0, keep_empty_features=True), numeric),
        (OneHotEncoder(handle_unknown="ignore"), categorical))
    return make_pipeline(prep, HistGradientBoostingRegressor(max_iter=100, random_state=seed)).fit(
        dev[schema.column_names], dev[TARGET])


def build_docks(sites: list[dict], schema: TableSchema, imputers: dict, root: Path, seed: int) -> dict:
    models = [developer_model(s["dev"], schema, MODEL_IMPUTERS[i % len(MODEL_IMPUTERS)], seed) for i, s in enumerate(sites)]
    docks = {}
    for spec_imputer, impute in imputers.items():
        dock = Dock(root / spec_imputer)
        ids = {}
        for site, model in zip(sites, models):
            rkme = RKMESpec.fit(impute(schema.encode(site["dev"])), seed=seed)
            lw = Learnware.build(root / "build" / spec_imputer / site["name"], model, rkme, table=site["dev"], schema=schema,
                                 target=TARGET, name=site["name"], task_type="regression")
            ids[site["name"]] = dock.submit(lw, validate=False)  # built here, seconds ago
        docks[spec_imputer] = (dock, ids)
    return docks


def false_alarms(docks: dict, sites: list[dict], schema: TableSchema, imputers: dict, alpha: float, seed: int) -> list[dict]:
    cells = []
    for dev_imputer, (dock, ids) in docks.items():
        for user_imputer, impute in imputers.items():
            alarms, hits, own_p = [], [], []
            for site in sites:
                task = Task(X=impute(schema.encode(site["user"])), feature_names=schema.feature_names,
                            task_type="regression", seed=seed)
                ranking = dock.search(task, k=len(ids), alpha=alpha)
                alarms.append(bool(ranking.details["nothing_fits"]))
                hits.append(ranking[0].learnware_id == ids[site["name"]])
                own_p.append(next(e.details["p_value"] for e in ranking if e.learnware_id == ids[site["name"]]))
            cells.append({"developer_spec_imputer": dev_imputer, "user_spec_imputer": user_imputer,
                          "library_default": dev_imputer == user_imputer == "own_mean",
                          "false_alarm_rate": float(np.mean(alarms)), "top1_hit_rate": float(np.mean(hits)),
                          "own_site_p_value_median": float(np.median(own_p)),
                          "false_alarm_sites": [s["name"] for s, a in zip(sites, alarms) if a]})
    return cells


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--max-rows", type=int, default=3000)
    parser.add_argument("--blank", default="CO", help="COL or COL@SITE: a column left empty at one site")
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sites, schema = load_sites(args.data or default_data_root(), args.max_rows, args.seed, args.blank)
    with tempfile.TemporaryDirectory(prefix="imputation-") as root:
        imputers = spec_imputers(sites, schema)
        docks = build_docks(sites, schema, imputers, Path(root), args.seed)
        cells = false_alarms(docks, sites, schema, imputers, args.alpha, args.seed)
    report = {"sites": len(sites), "rows_per_site": args.max_rows, "blank": args.blank, "alpha": args.alpha,
              "seed": args.seed, "model_imputers_rotated": list(MODEL_IMPUTERS), "cells": cells,
              "seconds": round(time.perf_counter() - started, 1)}
    text = json.dumps(report, indent=None if args.json else 2)
    if args.out:
        args.out.write_text(text)
    print(text, file=sys.stdout)
    return report


if __name__ == "__main__":
    main()

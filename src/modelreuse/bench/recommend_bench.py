"""``modelreuse bench recommend``: recommenders vs baselines on leaderboard records, three settings.

Settings (test share ``test_fraction``, seeded):

* ``completion`` -- a random share of the records of every ranking group is hidden; a query is a
  group's hidden records (two or more models), ranked by a recommender fitted on the rest.
* ``unseen-datasets`` -- a share of each source's datasets is held out entirely (by name, across
  sources); queries are their groups; their records are never seen in training, only the dataset
  metadata (name, task, description).
* ``unseen-models`` -- a share of the models is held out entirely, per source: the source's
  latest dated models (a temporal split; sources date models differently, so each has its own
  cutoff) and a seeded random share of its undated ones; a query is a group restricted to
  held-out models (two or more). Seeds change only the undated draw.

Per query (ModelLens' protocol, averaged over queries): weighted Kendall tau in both conventions
(``weighted_tau`` = Model Spider / ModelLens: ``weightedtau(truth, pred, rank=None)``, weights on the
true top; ``weighted_tau_sfda`` = ``weightedtau(pred, truth)``), Hit@k (the true best model is in the
predicted top k), NDCG@k (relevance = min-max-scaled truth, gain ``2^rel - 1``) and Rec@k (share of
the true top k in the predicted top k) for k in 1, 10, 30, 50; k is capped at the query size. A
recommender that gives every model of a query the same score has tau 0 there. Results are
reported pooled over all queries and per source.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from modelreuse.config import cache_home
from modelreuse.errors import RecordsDataError
from modelreuse.metrics.ranking import hit_at_k, ndcg_at_k, recall_at_k
from modelreuse.records.leaderboard import LeaderboardRecords
from modelreuse.selection.learned.base import PAIR_COLUMNS, RECOMMENDERS

SETTINGS = ("completion", "unseen-datasets", "unseen-models")
KS = (1, 10, 30, 50)


def split_records(records: LeaderboardRecords, setting: str, seed: int = 0,
                  test_fraction: float = 0.2) -> tuple[LeaderboardRecords, pd.DataFrame, dict]:
    """``(train records, test query rows with a 'group' id, split report)`` for one setting (module doc)."""
    if setting not in SETTINGS:
        raise RecordsDataError(f"unknown setting {setting!r}; choose from {list(SETTINGS)}")
    rng = np.random.default_rng(seed)
    frame = records.ranking_groups()
    if setting == "completion":
        test_rows = rng.random(len(frame)) < test_fraction
    elif setting == "unseen-datasets":
        held = _held_out_datasets(frame, rng, test_fraction)
        test_rows = frame["dataset"].isin(held).to_numpy()
    else:
        held = _held_out_models(frame, records.models, rng, test_fraction)
        test_rows = frame["model"].isin(held).to_numpy()
    test = frame[test_rows]
    test = test[test.groupby("group")["model"].transform("size") >= 2].reset_index(drop=True)
    train_rows = ~frame["dataset"].isin(held) if setting == "unseen-datasets" else \
        ~frame["model"].isin(held) if setting == "unseen-models" else ~test_rows
    train = LeaderboardRecords(frame.loc[train_rows, records.records.columns], records.models, records.datasets)
    report = {"train_records": len(train.records), "test_records": len(test),
              "queries": int(test["group"].nunique()), "test_models": int(test["model"].nunique()),
              "test_datasets": int(test["dataset"].nunique())}
    return train, test, report


def _held_out_datasets(frame: pd.DataFrame, rng, fraction: float) -> set:
    held = set()
    for _, part in frame.groupby("source"):
        names = np.sort(part["dataset"].unique())
        if len(names) >= 2:
            held |= set(rng.choice(names, max(1, int(round(fraction * len(names)))), replace=False))
    return held


def _held_out_models(frame: pd.DataFrame, models: pd.DataFrame, rng, fraction: float) -> set:
    """Per source: its latest ``fraction`` of dated models, and a seeded ``fraction`` of its undated ones."""
    dates = models.drop_duplicates("model").set_index("model")["release_date"]
    held = set()
    for _, part in frame.groupby("source"):
        names = np.sort(part["model"].unique().astype(str))
        when = pd.to_datetime(dates.reindex(names), errors="coerce", utc=True)
        dated, undated = when[when.notna()], names[when.isna().to_numpy()]
        if len(dated):
            held |= set(dated[dated >= dated.quantile(1 - fraction)].index)
        held |= set(rng.choice(undated, int(round(fraction * len(undated))), replace=False))
    return held


def query_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Every metric of the module doc for one query (higher is better throughout)."""
    constant = np.ptp(pred) == 0
    out = {"weighted_tau": 0.0 if constant else float(stats.weightedtau(truth, pred, rank=None).statistic),
           "weighted_tau_sfda": 0.0 if constant else float(stats.weightedtau(pred, truth).statistic)}
    for k in KS:
        out |= {f"hit@{k}": hit_at_k(pred, truth, k), f"ndcg@{k}": ndcg_at_k(pred, truth, k),
                f"rec@{k}": recall_at_k(pred, truth, k)}
    return {k: (v if np.isfinite(v) else 0.0) for k, v in out.items()}


def evaluate(test: pd.DataFrame, scores: np.ndarray) -> dict:
    """Mean of :func:`query_metrics` over the queries, pooled and per source."""
    rows = []
    for (_group, source), part in test.assign(pred=scores).groupby(["group", "source"], sort=False):
        rows.append({"source": source, **query_metrics(part["pred"].to_numpy(), part["utility"].to_numpy())})
    table = pd.DataFrame(rows)
    metrics = [c for c in table.columns if c != "source"]
    return {"pooled": table[metrics].mean().round(4).to_dict(), "queries": len(table),
            "per_source": {s: {**part[metrics].mean().round(4).to_dict(), "queries": len(part)}
                           for s, part in table.groupby("source")}}


def run_recommend_bench(records: LeaderboardRecords, setting: str, methods: list[str] | None = None,
                        seeds: tuple[int, ...] = (0,), test_fraction: float = 0.2,
                        cache: Path | None = cache_home("recommend"), modellens_options: dict | None = None,
                        progress: Callable[[str], None] | None = None) -> dict:
    """Every recommender of :data:`~modelreuse.selection.learned.base.RECOMMENDERS` (or ``methods``)
    on one setting, one split per seed; metrics are means over seeds (``*_std``: std)."""
    methods = methods or RECOMMENDERS.names()
    for name in methods:
        RECOMMENDERS.get(name)  # an unknown name raises UnknownNameError listing the recommenders
    runs = [_run_seed(records, setting, methods, seed, test_fraction, cache, modellens_options or {}, progress)
            for seed in seeds]
    return {"setting": setting, "seeds": list(seeds), "split": runs[0][0],
            "methods": {name: _over_seeds([run[1][name] for run in runs]) for name in methods}}


def _run_seed(records, setting, methods, seed, test_fraction, cache, modellens_options, progress):
    train, test, report = split_records(records, setting, seed, test_fraction)
    if test.empty:
        raise RecordsDataError(f"the {setting} split left no query with two or more models")
    pairs = test[list(PAIR_COLUMNS)]
    results = {}
    for name in methods:
        if progress:
            progress(f"{setting}, seed {seed}: fitting {name}")
        method = _build(name, seed, cache, modellens_options, progress)
        method.fit(train)
        results[name] = evaluate(test, method.predict(pairs, records.models, records.datasets))
    return report, results


def _over_seeds(results: list[dict]) -> dict:
    pooled = pd.DataFrame([r["pooled"] for r in results])
    out = {**pooled.mean().round(4).to_dict(), **pooled.std(ddof=0).round(4).add_suffix("_std").to_dict()}
    sources = sorted({s for r in results for s in r["per_source"]})
    out["per_source"] = {s: pd.DataFrame([r["per_source"][s] for r in results if s in r["per_source"]]).mean()
                         .round(4).to_dict() for s in sources}
    return out


def _build(name: str, seed: int, cache, modellens_options: dict, progress):
    """The registered recommender with the run's seed, cache and progress where it takes them."""
    method = RECOMMENDERS.get(name)()
    shared = {"seed": seed, "cache": cache, "progress": progress}
    params = method.get_params()
    method.set_params(**{k: v for k, v in shared.items() if k in params})
    return method.set_params(**modellens_options) if name == "modellens" else method

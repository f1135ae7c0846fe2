"""Leaderboard records: what each model scored on each dataset, with model and dataset tables.

A record set is a folder with three tables (``.parquet`` or ``.csv``, same stem names):

``records``  one row per reported number

    ==================  ===================================================================
    ``model``           model name; the key into ``models``
    ``dataset``         dataset name; the key into ``datasets``
    ``task``            what was measured on it (``Retrieval``, ``zero-shot classification``...)
    ``metric``          the metric's name (``ndcg_at_10``, ``acc1``, ``Percentage error``...)
    ``score``           the number, in the metric's own units
    ``higher_is_better``  True / False; rows where it is unknown are dropped and counted
    ``source``          which leaderboard reported it (``mteb``, ``open_clip``, ...)
    ==================  ===================================================================

``models``    ``model, family, params, release_date, description`` (``params`` = number of
              parameters as a float; any column but ``model`` may be empty)
``datasets``  ``dataset, task, modality, description``

**Ranking queries.** One query is a ``(source, dataset, task, metric)`` group: sources evaluate
the same benchmark with different protocols (HELM's MMLU is not ObsScaling's MMLU), so numbers are
only compared within one source. A group needs two or more models to rank.

**Cleaning** (:func:`clean_records`, run by every reader and importer): rows with a missing or
non-numeric score, or an unknown metric direction, are dropped; duplicate rows for the same
``(source, model, dataset, task, metric)`` keep the *last* row (importers order rows oldest
first), and how many of them disagreed is counted. Nothing is dropped without a count in the
report.

``modelreuse records import`` writes every staged leaderboard in this format; bring your own by
writing the same three tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse.errors import RecordsDataError
from modelreuse.records.base import find_table, read_table, require_columns, write_table

RECORD_COLUMNS = ("model", "dataset", "task", "metric", "score", "higher_is_better", "source")
MODEL_COLUMNS = ("model", "family", "params", "release_date", "description")
DATASET_COLUMNS = ("dataset", "task", "modality", "description")
GROUP_KEY = ["source", "dataset", "task", "metric"]
TABLES = ("records", "models", "datasets")

_LOWER_IS_BETTER = re.compile(r"error|\berr\b|loss|perplexity|\bppl\b|\bepe\b|\bwer\b|\bcer\b|\bmae\b|\bmse\b|"
                              r"rmse|latency|bit per|bits per|\bbpc\b|\bbpb\b|fl_all|epe\b|distance", re.I)
_HIGHER_IS_BETTER = re.compile(r"acc|f1|\bf0\.5|\bem\b|exact|bleu|rouge|meteor|\bmap\b|auc|precision|recall|"
                               r"score|ndcg|mrr|hits?@|\bp@|iou|spearman|pearson|correl|win rate|\belo\b|pass@|"
                               r"\blas\b|\buas\b|success|solved|correct|\bmiou\b|pixel_acc|\bsota\b|"
                               r"box_map|mask_map|kp_map|\bmean\b|average|rate", re.I)


def infer_higher_is_better(metric: str) -> bool | None:
    """Direction of a metric from its name: False for error/loss/perplexity-like names, True for
    accuracy/F1/BLEU/score-like names, None when the name says neither (the row is then dropped)."""
    if _LOWER_IS_BETTER.search(metric):
        return False
    return True if _HIGHER_IS_BETTER.search(metric) else None


@dataclass
class LeaderboardRecords:
    """A cleaned record set (module doc) and the report of what cleaning did."""

    records: pd.DataFrame
    models: pd.DataFrame
    datasets: pd.DataFrame
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.records, report = clean_records(self.records)
        self.models = _complete_table(self.models, MODEL_COLUMNS, "model", self.records["model"])
        self.datasets = _complete_table(self.datasets, DATASET_COLUMNS, "dataset", self.records["dataset"])
        self.models["params"] = pd.to_numeric(self.models["params"], errors="coerce")
        self.report = {**self.report, **report, **self._coverage()}

    def _coverage(self) -> dict:
        sizes = self.records.groupby(GROUP_KEY, sort=False).size()
        described = self.models["description"].fillna("").str.strip() != ""
        return {"records": len(self.records), "models": len(self.models), "datasets": len(self.datasets),
                "groups": int((sizes >= 2).sum()), "single_model_groups": int((sizes < 2).sum()),
                "models_without_description": int((~described).sum()),
                "models_without_params": int(self.models["params"].isna().sum())}

    @property
    def utility(self) -> pd.Series:
        """Scores oriented so that higher is always better (``-score`` where lower is better)."""
        return self.records["score"].where(self.records["higher_is_better"], -self.records["score"])

    def ranking_groups(self, min_models: int = 2) -> pd.DataFrame:
        """Records with a ``group`` id column, only groups with at least ``min_models`` models."""
        frame = self.records.assign(utility=self.utility)
        frame["group"] = frame.groupby(GROUP_KEY, sort=False).ngroup()
        sizes = frame.groupby("group")["model"].transform("size")
        return frame[sizes >= min_models].reset_index(drop=True)

    def subset(self, sources: list[str]) -> LeaderboardRecords:
        """Only the records of these sources (and the models and datasets they mention)."""
        records = self.records[self.records["source"].isin(sources)]
        return LeaderboardRecords(records, self.models[self.models["model"].isin(records["model"])],
                                  self.datasets[self.datasets["dataset"].isin(records["dataset"])])

    def write(self, folder: str | Path, fmt: str = "parquet") -> None:
        """Write ``records``, ``models`` and ``datasets`` (``.parquet`` or ``.csv``) to ``folder``."""
        if fmt not in ("parquet", "csv"):
            raise RecordsDataError(f"format must be parquet or csv, got {fmt!r}")
        for name in TABLES:
            write_table(getattr(self, name), Path(folder) / f"{name}.{fmt}")


def read_leaderboard(folder: str | Path) -> LeaderboardRecords:
    """Read a record set folder (``records``/``models``/``datasets`` as .parquet or .csv)."""
    tables = {}
    for name in TABLES:
        found = find_table(folder, name)
        if found is None and name == "records":
            raise RecordsDataError(f"no records.parquet or records.csv in {folder}")
        tables[name] = pd.DataFrame() if found is None else read_table(found, RecordsDataError)
    return LeaderboardRecords(tables["records"], tables["models"], tables["datasets"])


def clean_records(records: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Validate and clean a records table (module doc); returns the table and counts of what changed."""
    require_columns(records, [c for c in RECORD_COLUMNS if c != "higher_is_better"], RecordsDataError, "records")
    frame = records.copy()
    if "higher_is_better" not in frame:
        frame["higher_is_better"] = None
    for column in ("model", "dataset", "task", "metric", "source"):
        frame[column] = frame[column].astype("string").str.strip()
    report = {}
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    bad_score = ~np.isfinite(frame["score"].to_numpy(dtype=np.float64))
    unnamed = frame[["model", "dataset", "metric", "source"]].isna().any(axis=1).to_numpy() | \
        (frame["model"].fillna("") == "").to_numpy()
    report["dropped_missing_score"] = int((bad_score & ~unnamed).sum())
    report["dropped_missing_name"] = int(unnamed.sum())
    frame = frame[~bad_score & ~unnamed]
    frame["task"] = frame["task"].fillna("")
    direction = frame["higher_is_better"].map(_as_direction)
    inferred = direction.isna()
    direction[inferred] = frame.loc[inferred, "metric"].map(infer_higher_is_better)
    report["direction_inferred_from_metric_name"] = int((inferred & direction.notna()).sum())
    report["dropped_unknown_direction"] = int(direction.isna().sum())
    frame = frame.assign(higher_is_better=direction)[direction.notna()]
    frame["higher_is_better"] = frame["higher_is_better"].astype(bool)
    frame, report["duplicate_rows_dropped"], report["duplicate_keys_conflicting"] = _deduplicate(frame)
    if frame.empty:
        raise RecordsDataError(f"no usable records left after cleaning: {report}")
    return frame[list(RECORD_COLUMNS)].reset_index(drop=True), report


def _as_direction(value) -> bool | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str):
        lowered = value.strip().lower()
        return {"true": True, "1": True, "false": False, "0": False}.get(lowered)
    return bool(value)


def _deduplicate(frame: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Keep the last row per (source, model, dataset, task, metric); count the rows dropped and the keys whose
    repeated scores disagree."""
    key = ["source", "model", "dataset", "task", "metric"]
    repeated = frame[frame.duplicated(key, keep=False)]
    if repeated.empty:
        return frame, 0, 0
    spread = repeated.groupby(key, sort=False)["score"].agg(lambda s: s.max() - s.min())
    extra_rows = len(repeated) - len(spread)
    conflicting = int((spread > 1e-9 * np.maximum(1.0, spread.abs())).sum())
    return frame.drop_duplicates(key, keep="last"), extra_rows, conflicting


def _complete_table(table: pd.DataFrame, columns: tuple[str, ...], key: str, used: pd.Series) -> pd.DataFrame:
    """One row per ``key`` value used by the records, columns in order, missing metadata as NaN."""
    table = table.copy() if len(table.columns) else pd.DataFrame(columns=list(columns))
    if key not in table:
        raise RecordsDataError(f"the {key}s table lacks a {key!r} column")
    for column in columns:
        if column not in table:
            table[column] = np.nan
    table[key] = table[key].astype("string").str.strip()
    table = table.drop_duplicates(key, keep="first")
    absent = pd.DataFrame({key: sorted(set(used) - set(table[key]))})
    table = pd.concat([table[table[key].isin(used)], absent], ignore_index=True)
    return table[list(columns) + [c for c in table.columns if c not in columns]].reset_index(drop=True)

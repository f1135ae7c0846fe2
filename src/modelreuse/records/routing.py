"""Routing records: how well every model did on every query, in one table per collection.

Format (parquet or csv, one row per query):

=================  ==========================================================================
column             meaning
=================  ==========================================================================
``prompt``         the query text (non-empty string)
``task``           the dataset / task the query belongs to (e.g. ``mmlu``)
``split``          ``train`` / ``test`` (any labels; routers fit on one, are scored on another)
``score:<model>``  the model's score on the query, in [0, 1] (0/1 correctness or a graded
                   score); missing (empty / NaN) where the model was not evaluated
``cost:<model>``   optional, USD the model spent on the query (>= 0)
anything else      kept as is (ids, sub-tasks, ...)
=================  ==========================================================================

An optional model table (``<name>_models.csv``) has columns ``name, size, price, description``
(``size`` in parameters, ``price`` in USD per million tokens, both may be empty).

``modelreuse routing import`` writes every staged source in this format; bring your own by
writing the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse.errors import RoutingDataError
from modelreuse.records.base import read_table, require_columns, write_table

SCORE, COST = "score:", "cost:"
REQUIRED = ("prompt", "task", "split")
MODEL_COLUMNS = ("name", "size", "price", "description")


@dataclass
class RoutingRecords:
    """A validated records table (module doc), the optional model table, and what the importer that
    produced it dropped and why (``report``)."""

    table: pd.DataFrame
    models_table: pd.DataFrame | None = None
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self.table)
        if self.models_table is not None:
            require_columns(self.models_table, MODEL_COLUMNS[:1], RoutingDataError, "the model table")

    @property
    def models(self) -> list[str]:
        return [c[len(SCORE):] for c in self.table.columns if c.startswith(SCORE)]

    @property
    def has_costs(self) -> bool:
        return all(f"{COST}{m}" in self.table.columns for m in self.models)

    @property
    def prompts(self) -> list[str]:
        return self.table["prompt"].tolist()

    @property
    def tasks(self) -> np.ndarray:
        return self.table["task"].to_numpy(dtype=str)

    def scores(self) -> np.ndarray:
        """``(n_queries, n_models)`` float64 scores, NaN where missing."""
        return self.table[[SCORE + m for m in self.models]].to_numpy(dtype=np.float64)

    def costs(self) -> np.ndarray | None:
        """``(n_queries, n_models)`` USD costs, or None when the collection records none."""
        return self.table[[COST + m for m in self.models]].to_numpy(dtype=np.float64) if self.has_costs else None

    def split(self, name: str) -> RoutingRecords:
        """The rows of one split (error if there are none)."""
        rows = self.table["split"] == name
        if not rows.any():
            raise RoutingDataError(f"no rows with split {name!r}; splits present: {sorted(self.table['split'].unique())}")
        return RoutingRecords(self.table[rows].reset_index(drop=True), self.models_table)

    def select_models(self, models: list[str]) -> RoutingRecords:
        """Only ``models``' score and cost columns (plus every non-model column)."""
        unknown = set(models) - set(self.models)
        if unknown:
            raise RoutingDataError(f"unknown model(s) {sorted(unknown)}")
        drop = [c for c in self.table.columns if c.startswith((SCORE, COST)) and c.split(":", 1)[1] not in models]
        return RoutingRecords(self.table.drop(columns=drop), self.models_table)

    def write(self, path: str | Path) -> None:
        """Write ``path`` (.parquet or .csv) and, with a model table, ``<stem>_models.csv`` beside it."""
        path = Path(path)
        write_table(self.table, path)
        if self.models_table is not None:
            write_table(self.models_table, path.with_name(f"{path.stem}_models.csv"))


def read_records(path: str | Path) -> RoutingRecords:
    """Read a records table (and its ``<stem>_models.csv`` if present), validating it."""
    path = Path(path)
    table = read_table(path, RoutingDataError)
    models_path = path.with_name(f"{path.stem}_models.csv")
    return RoutingRecords(table, read_table(models_path, RoutingDataError) if models_path.is_file() else None)


def _validate(table: pd.DataFrame) -> None:
    require_columns(table, REQUIRED, RoutingDataError, "records")
    score_cols = [c for c in table.columns if c.startswith(SCORE)]
    if not score_cols:
        raise RoutingDataError("records have no score:<model> column")
    if len(table) == 0:
        raise RoutingDataError("records table is empty")
    prompts = table["prompt"]
    empty = int((prompts.isna() | (prompts.astype(str).str.strip() == "")).sum())
    if empty:
        raise RoutingDataError(f"{empty} record(s) have an empty prompt")
    scores = table[score_cols].apply(pd.to_numeric, errors="coerce")
    if (table[score_cols].notna() & scores.isna()).to_numpy().any():
        raise RoutingDataError("score columns must be numeric")
    if ((scores < 0) | (scores > 1)).to_numpy().any():
        raise RoutingDataError("scores must lie in [0, 1]; rescale graded scores first")
    all_missing = int(scores.isna().all(axis=1).sum())
    if all_missing:
        raise RoutingDataError(f"{all_missing} record(s) have no score for any model; drop them")
    models = {c[len(SCORE):] for c in score_cols}
    for c in (c for c in table.columns if c.startswith(COST)):
        if c[len(COST):] not in models:
            raise RoutingDataError(f"cost column {c!r} has no matching score column")
        if (pd.to_numeric(table[c], errors="coerce") < 0).any():
            raise RoutingDataError(f"{c} has negative costs")

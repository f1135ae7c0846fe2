"""Turning tables into the float matrices learnwares and specs work on.

:class:`TableEncoder` learns a *public schema* from column names and value vocabularies (not
from statistics that would leak data): which columns are numeric, which categorical and
their categories. It then maps any table with those columns to a float matrix: numeric
columns coerced (unparseable cells, e.g. blank strings, become NaN), categorical columns
one-hot encoded (unknown or missing -> all zeros). Missing numeric values stay NaN: models
that handle NaN (histogram gradient boosting) use them as is, and :func:`impute_means`
fills them before an RKME is built.

Dropped automatically: the target, row counters (integers increasing by exactly 1) and
columns constant within every table (e.g. a site name in a per-site table), which carry no
information inside a site and would make identification trivial.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse.errors import InvalidTaskDataError

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet")
NUMERIC_FRACTION = 0.9
MAX_CATEGORIES = 50


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a csv, csv.gz, tsv(.gz) or parquet table."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    if name.endswith((".tsv", ".tsv.gz")):
        return pd.read_csv(path, sep="\t", low_memory=False)
    if name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path, low_memory=False)
    raise InvalidTaskDataError(f"unsupported table format {path.name!r}; use one of {TABLE_SUFFIXES}")


def list_tables(directory: str | Path) -> list[Path]:
    """Tables in ``directory`` (sorted by name)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InvalidTaskDataError(f"{directory} is not a directory")
    tables = sorted(p for p in directory.iterdir() if p.name.lower().endswith(TABLE_SUFFIXES))
    if not tables:
        raise InvalidTaskDataError(f"{directory} holds no tables ({', '.join(TABLE_SUFFIXES)})")
    return tables


class TableEncoder:
    """Public schema of a set of same-column tables and its float encoding."""

    def __init__(self, target: str | None = None, text_column: str | None = None):
        self.target = target
        self.text_column = text_column

    def fit(self, tables: list[pd.DataFrame]) -> TableEncoder:
        columns = list(tables[0].columns)
        for t in tables[1:]:
            if list(t.columns) != columns:
                raise InvalidTaskDataError("all tables must have the same columns in the same order")
        if self.target is not None and self.target not in columns:
            raise InvalidTaskDataError(f"target column {self.target!r} not in tables; columns: {columns}")
        self.numeric_: list[str] = []
        self.categories_: dict[str, list[str]] = {}
        for col in columns:
            if col in (self.target, self.text_column) or _uninformative(col, tables):
                continue
            values = pd.concat([t[col] for t in tables], ignore_index=True)
            if _numeric_fraction(values) >= NUMERIC_FRACTION:
                self.numeric_.append(col)
            else:
                top = values.dropna().astype(str).str.strip().value_counts().index[:MAX_CATEGORIES]
                self.categories_[col] = sorted(top)
        self.feature_names_ = self.numeric_ + [f"{c}={v}" for c, cats in self.categories_.items() for v in cats]
        return self

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        """Float matrix ``(n, len(feature_names_))``; missing numeric values are NaN."""
        parts = [table[self.numeric_].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)]
        for col, cats in self.categories_.items():
            vals = table[col].astype("string").str.strip().fillna("\x00missing").to_numpy(dtype=object)
            parts.append((vals[:, None] == np.asarray(cats, dtype=object)[None, :]).astype(np.float64))
        return np.hstack(parts) if parts else np.zeros((len(table), 0))


def encode_for_features(table: pd.DataFrame, feature_names: list[str]) -> np.ndarray:
    """Encode ``table`` into the columns named by a learnware's ``input_schema.feature_names``:
    ``"col"`` is numeric column ``col``; ``"col=value"`` is the one-hot indicator of ``value``."""
    out = np.zeros((len(table), len(feature_names)))
    for j, name in enumerate(feature_names):
        if name in table.columns:
            out[:, j] = pd.to_numeric(table[name], errors="coerce").to_numpy(np.float64)
            continue
        col, _, value = name.partition("=")
        if not _ or col not in table.columns:
            raise InvalidTaskDataError(f"the table has no column for feature {name!r}")
        out[:, j] = (table[col].astype("string").str.strip() == value).fillna(False).to_numpy(np.float64)
    return out


def impute_means(X: np.ndarray) -> np.ndarray:
    """Replace NaN by the column mean (0 for all-NaN columns); returns a copy."""
    X = np.array(X, dtype=np.float64)
    means = np.nanmean(np.where(np.isfinite(X), X, np.nan), axis=0) if len(X) else np.zeros(X.shape[1])
    means = np.where(np.isfinite(means), means, 0.0)
    bad = ~np.isfinite(X)
    X[bad] = np.take(means, np.nonzero(bad)[1])
    return X


def _numeric_fraction(values: pd.Series) -> float:
    present = values.dropna()
    present = present[present.astype(str).str.strip() != ""]
    if present.empty:
        return 1.0
    return float(pd.to_numeric(present, errors="coerce").notna().mean())


def _uninformative(col: str, tables: list[pd.DataFrame]) -> bool:
    """Constant within every table, or an integer row counter."""
    if all(t[col].nunique(dropna=False) <= 1 for t in tables):
        return True
    first = pd.to_numeric(tables[0][col], errors="coerce")
    return bool(first.notna().all() and len(first) > 2 and (first.diff().iloc[1:] == 1).all())

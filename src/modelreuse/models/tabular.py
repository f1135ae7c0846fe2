"""Reading tables from files, and the mean imputation specifications are built with (see
:mod:`modelreuse.models.table_schema` for how a table becomes a float matrix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse.errors import InvalidTaskDataError

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet")


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


def impute_means(X: np.ndarray) -> np.ndarray:
    """Replace NaN by the column mean (0 for all-NaN columns); returns a copy."""
    X = np.array(X, dtype=np.float64)
    finite = np.isfinite(X)
    counts = finite.sum(axis=0)
    means = np.where(finite, X, 0.0).sum(axis=0) / np.maximum(counts, 1)  # 0 where a column has no value
    bad = ~np.isfinite(X)
    X[bad] = np.take(means, np.nonzero(bad)[1])
    return X

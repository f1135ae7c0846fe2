"""What every records format shares: one table file (``.parquet`` or ``.csv``) read and written
the same way, and column checks that raise the format's own typed error
(:class:`~modelreuse.errors.RecordsDataError` for leaderboards,
:class:`~modelreuse.errors.RoutingDataError` for routing records) with a message saying what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from modelreuse.errors import ModelReuseError

SUFFIXES = (".parquet", ".csv")


def read_table(path: str | Path, error: type[ModelReuseError]) -> pd.DataFrame:
    """The table at ``path`` (.parquet or .csv); ``error`` when it is missing or of another type."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise error(f"records must be .parquet or .csv, got {path.name}")
    if not path.is_file():
        raise error(f"no records file at {path}")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def find_table(folder: str | Path, stem: str) -> Path | None:
    """``<folder>/<stem>.parquet``, else ``<stem>.csv``, else None."""
    return next((p for p in (Path(folder) / f"{stem}{s}" for s in SUFFIXES) if p.is_file()), None)


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write ``table`` to ``path`` (.parquet or .csv by suffix; parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=False) if path.suffix == ".parquet" else table.to_csv(path, index=False)


def require_columns(table: pd.DataFrame, columns: Iterable[str], error: type[ModelReuseError], what: str) -> None:
    """``error`` naming the columns of ``columns`` that ``table`` lacks (``what``: the table's name)."""
    columns = list(columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise error(f"{what} lack column(s) {missing}; need {columns}")

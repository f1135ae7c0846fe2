"""Small real learnwares for the dock's path and duplicate tests: Ridge regressors on real rows of
one Beijing station (numeric weather columns, PM2.5 target)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from modelreuse.learnware import Learnware
from modelreuse.models.tabular import read_table
from modelreuse.specs.rkme import RKMESpec
from tests.conftest import BEIJING

COLUMNS = ["TEMP", "PRES", "DEWP", "WSPM"]


@pytest.fixture(scope="session")
def station_rows(data_root) -> tuple[np.ndarray, np.ndarray]:
    """400 complete rows of the Wanliu station: weather columns and PM2.5."""
    table = read_table(next(BEIJING.glob("*Wanliu*"))).iloc[:600]
    table = table[COLUMNS + ["PM2.5"]].dropna().iloc[:400]
    return table[COLUMNS].to_numpy(dtype=float), table["PM2.5"].to_numpy(dtype=float)


def build_ridge(directory: str | Path, rows: tuple[np.ndarray, np.ndarray], alpha: float = 1.0) -> Learnware:
    """A real Ridge learnware at ``directory`` (relative paths are the caller's current directory);
    a different ``alpha`` gives a different package."""
    X, y = rows
    return Learnware.build(directory, Ridge(alpha=alpha).fit(X, y), RKMESpec.fit(X, m=10, max_iter=5),
                           name=f"Wanliu ridge {alpha:g}", task_type="regression", target="PM2.5",
                           feature_names=COLUMNS)

"""The one within-group z-score: records' utilities (or any per-candidate quantity) made comparable
across groups (ranking queries, tasks, datasets) before they are learned from or averaged.

``z = (v - mean_g) / std_g`` per column, where ``mean_g`` and ``std_g`` are the mean and the standard
deviation (``ddof`` 1: the sample std, pandas' default; ``ddof`` 0: the population std, numpy's)
of the rows of the same group ``g``. A group whose spread is 0 (or a single row with ``ddof=1``) gets
z = 0: it carries no ranking information.
"""

from __future__ import annotations

import numpy as np


def within_group_z(values, groups=None, ddof: int = 1) -> np.ndarray:
    """z-score of ``values`` ((n,) or (n, k); each column separately) within each group of
    ``groups`` ((n,) labels; None = one group); 0 where a group's spread is 0 (module doc)."""
    values = np.asarray(values, dtype=np.float64)
    flat = values.ndim == 1
    columns = values[:, None] if flat else values
    codes = np.zeros(len(columns), dtype=np.int64) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    counts = np.bincount(codes).astype(np.float64)[:, None]
    means = _group_sums(columns, codes) / counts
    centred = columns - means[codes]
    dof = np.maximum(counts - ddof, 0.0)
    var = np.divide(_group_sums(centred ** 2, codes), dof, out=np.zeros_like(means), where=dof > 0)
    std = np.sqrt(var)[codes]
    z = np.divide(centred, std, out=np.zeros_like(columns), where=std > 0)
    return z[:, 0] if flat else z


def _group_sums(columns: np.ndarray, codes: np.ndarray) -> np.ndarray:
    sums = np.zeros((codes.max() + 1 if len(codes) else 0, columns.shape[1]))
    np.add.at(sums, codes, columns)
    return sums

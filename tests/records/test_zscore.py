"""The one within-group z-score against pandas' and numpy's own standardisation."""

import numpy as np
import pandas as pd
import pytest

from modelreuse.records.zscore import within_group_z


def test_within_group_z_matches_pandas_groupby_with_sample_std():
    rng = np.random.default_rng(0)
    values, groups = rng.normal(size=500), rng.integers(0, 40, size=500)
    values[groups == 3] = 2.5                                         # a group without spread
    frame = pd.DataFrame({"v": values, "g": groups})
    stats = frame.groupby("g")["v"].agg(["mean", "std"]).reindex(groups)
    expected = ((values - stats["mean"]) / stats["std"]).fillna(0.0).to_numpy().copy()
    expected[groups == 3] = 0.0
    np.testing.assert_allclose(within_group_z(values, groups), expected, atol=1e-12)


@pytest.mark.parametrize("ddof", [0, 1])
def test_columns_without_groups_match_numpy(ddof):
    values = np.random.default_rng(1).normal(size=(12, 3))
    values[:, 1] = 7.0
    z = within_group_z(values, ddof=ddof)
    expected = (values - values.mean(0)) / values.std(0, ddof=ddof)
    np.testing.assert_allclose(z[:, [0, 2]], expected[:, [0, 2]], atol=1e-12)
    assert (z[:, 1] == 0).all()


def test_single_row_groups_are_zero_not_nan():
    assert within_group_z([1.0, 2.0, 3.0], ["a", "b", "b"]).tolist() == pytest.approx([0.0, -0.7071067811865476, 0.7071067811865476])

"""Contract of every registered recommender on a real leaderboard (ObsScaling, completion split):
a scikit-learn estimator that fits on records and predicts finite scores for held-out pairs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from modelreuse.bench.recommend_bench import split_records
from modelreuse.datasets.importers.leaderboard import import_all
from modelreuse.selection.learned.base import PAIR_COLUMNS, RECOMMENDERS

FAST = {"steps": 40, "members": 1}   # ModelLens: a short run is enough for the contract


@pytest.fixture(scope="module")
def split(data_root):
    records = import_all(data_root, only=["obsscaling"])
    train, test, _ = split_records(records, "completion", seed=0)
    return records, train, test


@pytest.mark.parametrize("name", RECOMMENDERS.names())
def test_recommender_contract(name, split, tmp_path):
    records, train, test = split
    recommender = RECOMMENDERS.get(name)()
    params = recommender.get_params()
    recommender.set_params(**{k: v for k, v in {**FAST, "cache": tmp_path}.items() if k in params})
    assert clone(recommender).get_params() == recommender.get_params()
    pairs = test[list(PAIR_COLUMNS)]
    with pytest.raises(NotFittedError):
        recommender.predict(pairs, records.models, records.datasets)
    fitted = recommender.fit(train)
    scores = fitted.predict(pairs, records.models, records.datasets)
    assert scores.shape == (len(pairs),) and np.isfinite(scores).all()
    unfitted = clone(fitted)
    assert unfitted.get_params() == fitted.get_params()
    assert not [k for k in vars(unfitted) if k.endswith("_") and not k.startswith("_")]

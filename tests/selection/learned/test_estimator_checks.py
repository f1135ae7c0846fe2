"""scikit-learn's estimator checks on every registered recommender.

A recommender fits on leaderboard records and predicts from frames of pairs and metadata, not
from an array ``X`` (its tags say ``input_tags.two_d_array=False``), so ``parametrize_with_checks``
runs only ``check_estimator_cloneable`` on it and the data-free API checks run here too. Fitting
and predicting on real records, ``NotFittedError`` and ``clone`` of a fitted recommender are
tested in test_recommenders.py.
"""

from __future__ import annotations

import pytest
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from modelreuse.selection.learned.base import RECOMMENDERS
from tests.sklearn_checks import DATA_FREE_CHECKS, run_data_free_check

RECOMMENDER_INSTANCES = [RECOMMENDERS.get(name)() for name in RECOMMENDERS.names()]


@parametrize_with_checks(RECOMMENDER_INSTANCES)
def test_recommender_is_cloneable(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", RECOMMENDER_INSTANCES, ids=lambda e: type(e).__name__)
def test_recommender_data_free_checks(estimator, check):
    run_data_free_check(check, estimator)


@pytest.mark.parametrize("estimator", RECOMMENDER_INSTANCES, ids=lambda e: type(e).__name__)
def test_recommender_tags_say_it_takes_records(estimator):
    tags = get_tags(estimator)
    assert not tags.input_tags.two_d_array and tags.estimator_type is None

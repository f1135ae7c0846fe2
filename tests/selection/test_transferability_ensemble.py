"""The leave-one-target-out metric ensemble learns which transferability metric to trust."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from modelreuse.errors import InvalidTaskDataError
from modelreuse.metrics.ranking import weighted_tau_sfda
from modelreuse.selection.transferability_ensemble import MetricEnsembleRanker, RankingTask, standardise_within_task


def test_ensemble_ranker_learns_which_metric_to_trust():
    rng = np.random.default_rng(0)
    tasks = []
    for _ in range(6):
        truth = rng.normal(size=12)
        good, noise = truth + 0.1 * rng.normal(size=12), rng.normal(size=12)
        tasks.append(RankingTask(np.column_stack([noise, good]), np.full(12, 64), 1000, truth))
    ranker = MetricEnsembleRanker().fit(tasks[:5])
    assert ranker.coef_[1] > 5 * abs(ranker.coef_[0]) and ranker.alpha_ in ranker.alphas
    assert weighted_tau_sfda(ranker.predict(tasks[5]), tasks[5].truth) > 0.8
    assert np.allclose(standardise_within_task(np.ones((4, 2))), 0.0)


def test_ensemble_ranker_learns_that_small_tasks_favour_small_encoders():
    """Truth = metric on large tasks, but low-dimensional encoders win on small ones (overfitting
    probes): only the size interaction can express that, and the ranker must pick it up."""
    rng = np.random.default_rng(1)
    dims = np.array([32, 128] * 6)
    tasks = []
    for n in (300, 500, 10000, 20000, 400, 15000):
        metric = rng.normal(size=12)
        penalty = (np.log(dims) - np.log(dims).mean()) * (np.log(2000) - np.log(n))
        tasks.append(RankingTask(metric[:, None], dims, n, metric - penalty))
    ranker = MetricEnsembleRanker().fit(tasks[1:])
    small = tasks[0]
    assert weighted_tau_sfda(ranker.predict(small), small.truth) > weighted_tau_sfda(small.scores[:, 0], small.truth) + 0.2


def test_ensemble_ranker_follows_the_estimator_contract():
    rng = np.random.default_rng(2)
    tasks = [RankingTask(rng.normal(size=(10, 2)), np.full(10, 64), 500, rng.normal(size=10)) for _ in range(4)]
    ranker = MetricEnsembleRanker(alphas=[1.0, 10.0])
    assert clone(ranker).get_params() == {"alphas": [1.0, 10.0]}
    with pytest.raises(NotFittedError):
        ranker.predict(tasks[0])
    fitted = ranker.fit(tasks)
    assert fitted.n_features_in_ == 4 and fitted.alpha_ in (1.0, 10.0)
    assert not hasattr(clone(fitted), "coef_")
    with pytest.raises(InvalidTaskDataError, match="at least one task"):
        MetricEnsembleRanker().fit([])

"""The leave-one-target-out metric ensemble learns which transferability metric to trust."""

import numpy as np

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

"""Ranking-evaluation metrics on hand-checkable rankings and the fixture's published conventions."""

import numpy as np
import pytest
from scipy import stats

from modelreuse.bench.ranking_metrics import (evaluate_ranking, hit_at_k, lovm_tau, ndcg_at_k, r5, recall_at_k,
                                              regret_at_k, weighted_tau_model_spider, weighted_tau_sfda)
from modelreuse.selection.transferability_ensemble import MetricEnsembleRanker, RankingTask, standardise_within_task

TRUTH = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])


def test_perfect_and_reversed_rankings():
    perfect, reversed_ = TRUTH * 10, -TRUTH
    assert weighted_tau_sfda(perfect, TRUTH) == pytest.approx(1.0)
    assert weighted_tau_model_spider(reversed_, TRUTH) == pytest.approx(-1.0)
    assert hit_at_k(perfect, TRUTH, 1) == 1.0 and hit_at_k(reversed_, TRUTH, 3) == 0.0
    assert ndcg_at_k(perfect, TRUTH, 5) == pytest.approx(1.0) and regret_at_k(reversed_, TRUTH, 1) == pytest.approx(0.6)
    assert r5(perfect, TRUTH) == 1.0 and lovm_tau(perfect, TRUTH) == pytest.approx(1.0)


def test_conventions_differ_and_match_scipy_calls():
    scores = np.array([0.1, 0.9, 0.3, 0.4, 0.2, 0.8, 0.5])
    assert weighted_tau_sfda(scores, TRUTH) == pytest.approx(stats.weightedtau(scores, TRUTH).statistic)
    assert weighted_tau_model_spider(scores, TRUTH) == pytest.approx(stats.weightedtau(TRUTH, scores, rank=None).statistic)
    assert weighted_tau_sfda(scores, TRUTH) != pytest.approx(weighted_tau_model_spider(scores, TRUTH))


def test_top_k_overlaps():
    scores = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # exactly reversed
    assert recall_at_k(scores, TRUTH, 3) == 0.0
    assert r5(scores, TRUTH) == pytest.approx(3 / 5)  # models 2,3,4 are in both top-5 lists
    assert lovm_tau(scores, TRUTH) == pytest.approx(-1.0)
    truth8 = np.arange(8.0)[::-1]  # true top-5: models 0..4
    two_overlap = np.array([0, 0, 0, 5, 6, 7, 8, 9.0])  # predicted top-5: models 3..7
    assert r5(two_overlap, truth8) == pytest.approx(2 / 5) and lovm_tau(two_overlap, truth8) == 0.0
    assert set(evaluate_ranking(scores, TRUTH)) >= {"weighted_tau_sfda", "hit@1", "ndcg@10", "rec@10", "regret@3"}


def test_bad_inputs():
    with pytest.raises(ValueError):
        weighted_tau_sfda([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        hit_at_k([1.0, np.nan], [1.0, 2.0], 1)


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

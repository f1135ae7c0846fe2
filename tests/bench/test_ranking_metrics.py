"""Ranking-evaluation metrics on hand-checkable rankings and the fixture's published conventions."""

import numpy as np
import pytest
from scipy import stats

from modelreuse.bench.ranking_metrics import (evaluate_ranking, hit_at_k, lovm_tau, ndcg_at_k, r5, recall_at_k,
                                              regret_at_k, weighted_tau_model_spider, weighted_tau_sfda)
from modelreuse.selection.transferability_ensemble import MetricEnsembleRanker, standardise_within_task

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
    names = [f"m{i}" for i in range(12)]
    tasks = []
    for _ in range(6):
        truth = rng.normal(size=12)
        good, noise = truth + 0.1 * rng.normal(size=12), rng.normal(size=12)
        tasks.append((np.column_stack([noise, good]), truth, names))
    ranker = MetricEnsembleRanker(alpha=1.0, use_model_prior=False).fit(tasks[:5])
    assert ranker.coef_[1] > 5 * abs(ranker.coef_[0])
    S, truth, _ = tasks[5]
    assert weighted_tau_sfda(ranker.predict(S, names), truth) > 0.8
    assert np.allclose(standardise_within_task(np.ones((4, 2))), 0.0)


def test_model_prior_carries_consistent_model_quality():
    rng = np.random.default_rng(1)
    names = [f"m{i}" for i in range(10)]
    quality = np.arange(10.0)
    tasks = [(rng.normal(size=(10, 1)), quality + 0.3 * rng.normal(size=10), names) for _ in range(5)]
    ranker = MetricEnsembleRanker(alpha=1.0).fit(tasks[:4])
    assert ranker.coef_[-1] > 0.5  # the prior column dominates the uninformative metric
    S, truth, _ = tasks[4]
    assert weighted_tau_sfda(ranker.predict(S, names), truth) > 0.8
    assert ranker.predict(S, ["unseen"] * 10).std() < ranker.predict(S, names).std()

"""Ranking-evaluation metrics: hand-checkable rankings, the published conventions, and tie handling
(expectation over random tie-breaking, checked against brute force over every tie-breaking order)."""

from itertools import permutations
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from modelreuse.metrics.ranking import (
    evaluate_ranking,
    hit_at_k,
    lovm_tau,
    ndcg_at_k,
    r5,
    recall_at_k,
    regret_at_k,
    rel_at_k,
    top_k_probability,
    weighted_tau_model_spider,
    weighted_tau_sfda,
)

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



def test_no_ties_known_values():
    """Without ties the values are the plain top-k definitions (worked out by hand)."""
    scores = np.array([0.1, 0.9, 0.3, 0.4, 0.2, 0.8, 0.5])  # predicted order: models 1, 5, 6, 3, 2, 4, 0
    assert hit_at_k(scores, TRUTH, 1) == 0.0 and hit_at_k(scores, TRUTH, 7) == 1.0
    assert recall_at_k(scores, TRUTH, 3) == pytest.approx(1 / 3) and r5(scores, TRUTH) == pytest.approx(3 / 5)
    assert regret_at_k(scores, TRUTH, 3) == pytest.approx(0.1) and rel_at_k(scores, TRUTH, 1) == pytest.approx(0.8 / 0.9)
    discount = 1 / np.log2([2, 3, 4])
    dcg = np.array([2 ** (5 / 6) - 1, 2 ** (1 / 6) - 1, 0.0]) @ discount
    ideal = np.array([1.0, 2 ** (5 / 6) - 1, 2 ** (2 / 3) - 1]) @ discount
    assert ndcg_at_k(scores, TRUTH, 3) == pytest.approx(dcg / ideal)
    assert lovm_tau(scores, TRUTH) == pytest.approx(1 / 3)  # common {1, 2, 3}: two concordant pairs, one discordant


def test_constant_prediction_scores_the_random_ranking_value():
    """The defect of issue 14: a constant prediction on inputs sorted by truth used to score Hit@1 = 1."""
    truth = np.array([5.0, 5.0, 4.0, 3.0, 3.0, 3.0, 2.0, 1.0, 0.5, 0.0])
    n, constant = len(truth), np.zeros(len(truth))
    gain = 2 ** ((truth - truth.min()) / np.ptp(truth)) - 1
    for k in (1, 3, 5, 10):
        assert hit_at_k(constant, truth, k) == pytest.approx(1 - comb(n - 2, k) / comb(n, k))
        assert recall_at_k(constant, truth, k) == pytest.approx(k / n)
        discount = 1 / np.log2(np.arange(2, k + 2))
        assert ndcg_at_k(constant, truth, k) == pytest.approx(gain.mean() * discount.sum() / (np.sort(gain)[::-1][:k] @ discount))
    assert hit_at_k(constant, truth, 1) == pytest.approx(2 / n)
    assert regret_at_k(constant, truth, 1) == pytest.approx(truth.max() - truth.mean())
    assert r5(constant, truth) == pytest.approx(5 / n) and lovm_tau(constant, truth) == 0.0
    assert np.allclose(top_k_probability(constant, 3), 3 / n)


def _orders(values: np.ndarray) -> list[tuple[int, ...]]:
    """Every distinct best-first order of ``values`` that breaks ties some way (each equally likely)."""
    return sorted({tuple(sorted(range(len(values)), key=lambda i: (-values[i], tie[i])))
                   for tie in permutations(range(len(values)))})


def _brute_force(scores: np.ndarray, truth: np.ndarray, k: int) -> dict[str, float]:
    """The plain top-k definitions averaged over every tie-breaking of the scores (and of the truth's top lists)."""
    span = np.ptp(truth)
    gain = 2 ** ((truth - truth.min()) / span if span else np.ones_like(truth)) - 1
    discount = 1 / np.log2(np.arange(2, k + 2))
    ideal = np.sort(gain)[::-1][:k] @ discount
    rows = []
    for order in _orders(scores):
        top = list(order[:k])
        rows.append({"hit": float((truth[top] == truth.max()).any()), "ndcg": gain[top] @ discount / ideal,
                     "regret": truth.max() - truth[top].max()})
    out = {m: np.mean([r[m] for r in rows]) for m in rows[0]}
    pairs = [(set(p[:k]), set(t[:k]), set(p[:5]) & set(t[:5])) for p in _orders(scores) for t in _orders(truth)]
    out["recall"] = np.mean([len(p & t) / k for p, t, _ in pairs])
    out["lovm_tau"] = np.mean([_tau(sorted(c), scores, truth) for _, _, c in pairs])
    return out


def _tau(common: list[int], scores: np.ndarray, truth: np.ndarray) -> float:
    value = stats.kendalltau(scores[common], truth[common]).statistic if len(common) > 2 else 0.0
    return float(value) if np.isfinite(value) else 0.0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_closed_form_equals_average_over_every_tie_breaking(seed, k):
    rng = np.random.default_rng(seed)
    scores, truth = rng.integers(0, 3, size=6).astype(float), rng.integers(0, 4, size=6).astype(float)
    expected = _brute_force(scores, truth, k)
    assert hit_at_k(scores, truth, k) == pytest.approx(expected["hit"])
    assert ndcg_at_k(scores, truth, k) == pytest.approx(expected["ndcg"])
    assert regret_at_k(scores, truth, k) == pytest.approx(expected["regret"])
    assert recall_at_k(scores, truth, k) == pytest.approx(expected["recall"])
    assert lovm_tau(scores, truth) == pytest.approx(expected["lovm_tau"])


tied_vectors = st.integers(2, 12).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 3), min_size=n, max_size=n), st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.permutations(list(range(n)))))


@settings(max_examples=60, deadline=None)
@given(tied_vectors)
@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning", "ignore::RuntimeWarning")
def test_input_order_never_changes_a_value(case):
    scores, truth, order = np.asarray(case[0], dtype=float), np.asarray(case[1], dtype=float), list(case[2])
    before, after = evaluate_ranking(scores, truth), evaluate_ranking(scores[order], truth[order])
    assert before.keys() == after.keys()
    np.testing.assert_allclose([after[m] for m in before], list(before.values()), rtol=1e-9, atol=1e-12, equal_nan=True)

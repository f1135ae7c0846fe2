"""How well a predicted ranking of models matches the truth (ground-truth fine-tune / probe scores).

Every function takes ``scores`` (predicted, higher = better) and ``truth`` (measured, higher =
better) for the same models, in that order. No value depends on that order.

**Ties.** Every metric that cuts a top ``k`` (Hit@k, Recall@k, NDCG@k, regret@k, rel@k, R5, LOVM
tau) is the exact *expectation over uniformly random tie-breaking of the predicted scores*: models
scored strictly above a tie group are ranked before it, and the members of a group share its
positions uniformly at random. A constant prediction therefore scores exactly what a random ranking
scores (Hit@1 = #true-best / n, Recall@k = k / n). Ties in the truth are resolved as follows:

* Hit@k counts a hit when *any* model attaining ``max(truth)`` is in the predicted top ``k`` (a
  model tied for best is a best model), so Hit@1 = 1 exactly when regret@1 = 0.
* Recall@k, R5 and LOVM tau compare with the true top-``k`` list; when a truth tie straddles its
  cut, that list is completed uniformly at random as well, independently of the prediction.
* NDCG@k needs no rule: gains depend only on truth values, so the ideal DCG ignores truth ties.

The expected NDCG is ``E[DCG] / IDCG`` (McSherry & Najork, "Computing information retrieval
performance measures efficiently in the presence of tied scores", ECIR 2008): each member of a tie
group gets the mean discount of the positions the group occupies, counting positions >= k as 0.
Reference implementations break ties arbitrarily instead: ``np.argsort`` order in SFDA/EMMS/LOVM
(``sorted``/``argsort`` on the scores), which rewards inputs whose order correlates with the truth.

Two incompatible "weighted Kendall tau" conventions are in use; both are here, named after the
papers that use them (their tie handling is scipy's and never uses input order):

* :func:`weighted_tau_sfda` = ``scipy.stats.weightedtau(scores, truth)``: hyperbolic weights,
  ``rank=True`` averages the tau weighted by the predicted order and the tau weighted by the true
  order. Used by SFDA, NCTI and EMMS (``rank_correlation.py::w_kendall_metric``).
* :func:`weighted_tau_model_spider` = ``scipy.stats.weightedtau(truth, scores, rank=None)``:
  weights come from the lexicographic order of ``(truth, scores)``, i.e. only the true top models
  weigh most. Used by Model Spider (``utils.py::measure_test``) and ModelLens.

LOVM (Zohar et al., 2023) measures top-5 agreement: :func:`r5` is ``|top5(pred) & top5(truth)| / 5``
and :func:`lovm_tau` the Kendall tau of the two score lists restricted to the models in both top-5
lists, 0 when two or fewer overlap (both in expectation over tie-breaking, as above).
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
from scipy import stats


def _pair(scores, truth) -> tuple[np.ndarray, np.ndarray]:
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if scores.shape != truth.shape or scores.ndim != 1 or len(scores) < 2:
        raise ValueError(f"scores and truth must be 1-D of equal length >= 2, got {scores.shape} and {truth.shape}")
    if not (np.isfinite(scores).all() and np.isfinite(truth).all()):
        raise ValueError("scores and truth must be finite")
    return scores, truth


def _k(k: int, n: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return min(int(k), n)


def _above_and_tied(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per model: how many models score strictly higher, and the size of its tie group (itself included)."""
    ordered = np.sort(values)
    above = len(values) - np.searchsorted(ordered, values, side="right")
    tied = np.searchsorted(ordered, values, side="right") - np.searchsorted(ordered, values, side="left")
    return above, tied


def top_k_probability(values, k: int) -> np.ndarray:
    """Per model, the probability of being among the ``k`` highest ``values`` under random tie-breaking."""
    values = np.asarray(values, dtype=np.float64)
    above, tied = _above_and_tied(values)
    return np.clip((_k(k, len(values)) - above) / tied, 0.0, 1.0)


def _cut(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The top-``k`` cut of ``values``: indices surely in, the tie group straddling the cut, and its free slots."""
    above, tied = _above_and_tied(values)
    sure = np.flatnonzero(above + tied <= k)
    straddling = np.flatnonzero((above < k) & (above + tied > k))
    return sure, straddling, k - len(sure)


def _subset_weights(group_size: int, slots: int, hits: int) -> float:
    """Probability that a uniformly random ``slots``-subset of a group contains none of ``hits`` marked members."""
    return comb(group_size - hits, slots) / comb(group_size, slots)


def weighted_tau_sfda(scores, truth) -> float:
    """``weightedtau(scores, truth)`` (SFDA/NCTI/EMMS convention; module doc)."""
    scores, truth = _pair(scores, truth)
    return float(stats.weightedtau(scores, truth).statistic)


def weighted_tau_model_spider(scores, truth) -> float:
    """``weightedtau(truth, scores, rank=None)`` (Model Spider / ModelLens convention; module doc)."""
    scores, truth = _pair(scores, truth)
    return float(stats.weightedtau(truth, scores, rank=None).statistic)


def kendall_tau(scores, truth) -> float:
    """Kendall tau-b."""
    return float(stats.kendalltau(*_pair(scores, truth)).statistic)


def spearman(scores, truth) -> float:
    """Spearman rank correlation."""
    return float(stats.spearmanr(*_pair(scores, truth)).statistic)


def pearson(scores, truth) -> float:
    """Pearson correlation of the raw values."""
    return float(stats.pearsonr(*_pair(scores, truth)).statistic)


def hit_at_k(scores, truth, k: int) -> float:
    """Probability that a model attaining ``max(truth)`` is in the predicted top ``k`` (ties: module doc)."""
    scores, truth = _pair(scores, truth)
    sure, straddling, slots = _cut(scores, _k(k, len(scores)))
    best = truth == truth.max()
    if best[sure].any():
        return 1.0
    if not len(straddling):
        return 0.0
    return 1.0 - _subset_weights(len(straddling), slots, int(best[straddling].sum()))


def recall_at_k(scores, truth, k: int) -> float:
    """Expected share of the true top ``k`` found in the predicted top ``k`` (ties: module doc)."""
    scores, truth = _pair(scores, truth)
    k = _k(k, len(scores))
    return float(top_k_probability(scores, k) @ top_k_probability(truth, k) / k)


def _expected_discount(scores: np.ndarray, k: int) -> np.ndarray:
    """Per model, the mean of ``1 / log2(position + 2)`` over its tie group's positions, 0 from position ``k``."""
    discount = np.zeros(len(scores) + 1)
    discount[:k] = 1.0 / np.log2(np.arange(2, k + 2))
    cumulative = np.concatenate([[0.0], np.cumsum(discount)])
    above, tied = _above_and_tied(scores)
    mean = (cumulative[above + tied] - cumulative[above]) / tied
    return np.where(tied == 1, discount[above], mean)  # exact without ties (a perfect ranking scores 1.0)


def ndcg_at_k(scores, truth, k: int) -> float:
    """Expected NDCG@k, relevance = min-max-scaled truth, gain ``2^rel - 1``, discount ``log2(i + 1)``."""
    scores, truth = _pair(scores, truth)
    span = truth.max() - truth.min()
    gain = 2 ** ((truth - truth.min()) / span if span > 0 else np.ones_like(truth)) - 1
    k = _k(k, len(scores))
    ideal = np.sort(gain)[::-1][:k] @ (1.0 / np.log2(np.arange(2, k + 2)))
    return float(gain @ _expected_discount(scores, k) / ideal) if ideal > 0 else 1.0


def _expected_top_max(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Expected ``max(truth over the predicted top k)`` under random tie-breaking of ``scores``."""
    sure, straddling, slots = _cut(scores, _k(k, len(scores)))
    floor = truth[sure].max() if len(sure) else -np.inf
    if not slots:
        return float(floor)
    group = np.sort(truth[straddling])[::-1]
    g = len(group)
    # P(the j-th best of the group is the best one drawn) = C(g - j, slots - 1) / C(g, slots), j = 1..g
    weights = np.array([comb(g - j, slots - 1) / comb(g, slots) for j in range(1, g + 1)])
    return float(np.maximum(group, floor) @ weights)


def regret_at_k(scores, truth, k: int) -> float:
    """``max(truth) - E[max(truth over the predicted top k)]``, in the truth's units (0 is perfect)."""
    scores, truth = _pair(scores, truth)
    return float(truth.max() - _expected_top_max(scores, truth, k))


def rel_at_k(scores, truth, k: int = 1) -> float:
    """``E[max(truth over the predicted top k)] / max(truth)`` (SFDA's ``rel_k``, ties: module doc)."""
    scores, truth = _pair(scores, truth)
    return float(_expected_top_max(scores, truth, k) / truth.max())


def r5(scores, truth) -> float:
    """LOVM R5: expected overlap of the predicted and true top-5 lists, divided by 5 (or n when n < 5)."""
    return recall_at_k(scores, truth, 5)


def _realisations(values: np.ndarray, k: int, relevant: set[int]):
    """The top-``k`` sets of ``values`` intersected with ``relevant``, with their probabilities under random tie-breaking.

    Members of the straddling tie group outside ``relevant`` are interchangeable, so only which relevant
    members are drawn is enumerated: each ``y``-subset of them has probability ``C(g - x, slots - y) / C(g, slots)``.
    """
    sure, straddling, slots = _cut(values, k)
    fixed = frozenset(int(i) for i in sure) & relevant
    marked = [int(i) for i in straddling if int(i) in relevant]
    g, x = len(straddling), len(marked)
    for y in range(min(slots, x) + 1):
        weight = comb(g - x, slots - y) / comb(g, slots) if g else 1.0
        if weight:
            for drawn in combinations(marked, y):
                yield fixed | frozenset(drawn), weight


def _tau_on(common: frozenset, scores: np.ndarray, truth: np.ndarray) -> float:
    if len(common) <= 2:
        return 0.0
    index = sorted(common)
    value = stats.kendalltau(scores[index], truth[index]).statistic
    return float(value) if np.isfinite(value) else 0.0


def lovm_tau(scores, truth) -> float:
    """LOVM tau: Kendall tau on the models in both top-5 lists, 0 when two or fewer overlap; expected over ties.

    Exact: the predicted top-5 sets are enumerated as far as they meet the models that can be in the true
    top 5, and for each the true top-5 sets restricted to it (the cost grows as ``C(tie group, 5)`` only
    when both sides tie at their cuts).
    """
    scores, truth = _pair(scores, truth)
    k = _k(5, len(scores))
    sure, straddling, _ = _cut(truth, k)
    candidates = {int(i) for i in np.concatenate([sure, straddling])}
    total = 0.0
    for predicted, p in _realisations(scores, k, candidates):
        for common, q in _realisations(truth, k, set(predicted)):
            total += p * q * _tau_on(common, scores, truth)
    return total


def evaluate_ranking(scores, truth, ks: tuple[int, ...] = (1, 3, 5, 10)) -> dict[str, float]:
    """All of the above for one ranking query."""
    out = {
        "weighted_tau_sfda": weighted_tau_sfda(scores, truth),
        "weighted_tau_model_spider": weighted_tau_model_spider(scores, truth),
        "kendall_tau": kendall_tau(scores, truth),
        "spearman": spearman(scores, truth),
        "pearson": pearson(scores, truth),
        "r5": r5(scores, truth),
        "lovm_tau": lovm_tau(scores, truth),
    }
    for k in ks:
        out |= {f"hit@{k}": hit_at_k(scores, truth, k), f"ndcg@{k}": ndcg_at_k(scores, truth, k),
                f"rec@{k}": recall_at_k(scores, truth, k), f"regret@{k}": regret_at_k(scores, truth, k)}
    return out

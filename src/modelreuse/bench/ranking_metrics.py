"""How well a predicted ranking of models matches the truth (ground-truth fine-tune / probe scores).

Every function takes ``scores`` (predicted, higher = better) and ``truth`` (measured, higher =
better) for the same models, in that order. Ties in a top-k cut are broken by model order
(stable sort), so results are deterministic.

Two incompatible "weighted Kendall tau" conventions are in use; both are here, named after the
papers that use them:

* :func:`weighted_tau_sfda` = ``scipy.stats.weightedtau(scores, truth)``: hyperbolic weights,
  ``rank=True`` averages the tau weighted by the predicted order and the tau weighted by the true
  order. Used by SFDA, NCTI and EMMS (``rank_correlation.py::w_kendall_metric``).
* :func:`weighted_tau_model_spider` = ``scipy.stats.weightedtau(truth, scores, rank=None)``:
  weights come from the lexicographic order of ``(truth, scores)``, i.e. only the true top models
  weigh most. Used by Model Spider (``utils.py::measure_test``) and ModelLens.

LOVM (Zohar et al., 2023) measures top-5 agreement: :func:`r5` is ``|top5(pred) & top5(truth)| / 5``
and :func:`lovm_tau` the Kendall tau of the two score lists restricted to the models in both top-5
lists, 0 when two or fewer overlap.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _pair(scores, truth) -> tuple[np.ndarray, np.ndarray]:
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if scores.shape != truth.shape or scores.ndim != 1 or len(scores) < 2:
        raise ValueError(f"scores and truth must be 1-D of equal length >= 2, got {scores.shape} and {truth.shape}")
    if not (np.isfinite(scores).all() and np.isfinite(truth).all()):
        raise ValueError("scores and truth must be finite")
    return scores, truth


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, best first (stable: ties keep model order)."""
    return np.argsort(-np.asarray(values), kind="stable")[:k]


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
    """1 if the truly best model is among the predicted top ``k``, else 0."""
    scores, truth = _pair(scores, truth)
    return float(top_k(truth, 1)[0] in top_k(scores, k))


def recall_at_k(scores, truth, k: int) -> float:
    """Share of the true top ``k`` found in the predicted top ``k``."""
    scores, truth = _pair(scores, truth)
    k = min(k, len(scores))
    return len(set(top_k(scores, k)) & set(top_k(truth, k))) / k


def ndcg_at_k(scores, truth, k: int) -> float:
    """NDCG@k with relevance = min-max-scaled truth, gain ``2^rel - 1``, discount ``log2(i + 1)``."""
    scores, truth = _pair(scores, truth)
    span = truth.max() - truth.min()
    rel = (truth - truth.min()) / span if span > 0 else np.ones_like(truth)
    k = min(k, len(scores))
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = ((2 ** rel[top_k(truth, k)] - 1) * discount).sum()
    return float(((2 ** rel[top_k(scores, k)] - 1) * discount).sum() / ideal) if ideal > 0 else 1.0


def regret_at_k(scores, truth, k: int) -> float:
    """``max(truth) - max(truth over the predicted top k)``, in the truth's units (0 is perfect)."""
    scores, truth = _pair(scores, truth)
    return float(truth.max() - truth[top_k(scores, k)].max())


def rel_at_k(scores, truth, k: int = 1) -> float:
    """``max(truth over the predicted top k) / max(truth)`` (SFDA's ``rel_k``)."""
    scores, truth = _pair(scores, truth)
    return float(truth[top_k(scores, k)].max() / truth.max())


def r5(scores, truth) -> float:
    """LOVM R5: overlap of the predicted and true top-5 lists, divided by 5."""
    return recall_at_k(scores, truth, 5) if len(np.asarray(scores)) >= 5 else recall_at_k(scores, truth, len(scores))


def lovm_tau(scores, truth) -> float:
    """LOVM tau: Kendall tau on the models in both top-5 lists; 0 when two or fewer overlap."""
    scores, truth = _pair(scores, truth)
    common = sorted(set(top_k(scores, 5)) & set(top_k(truth, 5)))
    if len(common) <= 2:
        return 0.0
    value = stats.kendalltau(scores[common], truth[common]).statistic
    return float(value) if np.isfinite(value) else 0.0


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

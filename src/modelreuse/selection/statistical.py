"""Statistical identification: rank learnwares by MMD between the task RKME and theirs.

Paper: Wu et al., TKDE 2023 (single-learnware search by RKME distance); Zhou & Tan 2024 /
Tan et al. 2024 "Beimingwu" (multiple-learnware search as a non-negative mixture). Reference
implementation checked: ``learnware`` 0.4 ``RKMETableSpecification.dist`` and
``market/easy/searcher.py`` (mixture search by greedy NNLS). Differences: all MMDs for the
candidate set are computed in batched kernel products in the query's own frame (see
:mod:`modelreuse.specs.rkme_index`: no learnware's score depends on the other learnwares' specs), after a
vector-index prefilter.

Scores are higher-is-better: ``score = -MMD^2`` (the raw MMD^2 is in ``details``).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from modelreuse.selection.calibration import DEFAULT_ALPHA, NullModel, mixture_expected, p_values
from modelreuse.selection.ranking import RankedLearnware, Ranking
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import RKMEIndex

DEFAULT_PREFILTER = 64


def statistical_search(index: RKMEIndex, spec: RKMESpec, names: dict[str, str], k: int = 10,
                       prefilter: int = DEFAULT_PREFILTER, null: NullModel | None = None,
                       alpha: float = DEFAULT_ALPHA) -> Ranking:
    """The ``k`` learnwares with the smallest MMD to ``spec`` (exact MMD on the prefiltered set).

    With a ``null`` model (see :mod:`modelreuse.selection.calibration`) every entry also gets a
    ``p_value`` and the ranking says ``nothing_fits`` when all p-values are below ``alpha``.
    """
    candidates = index.prefilter(spec, max(prefilter, k))
    mmd2 = index.mmd2(spec, candidates)
    order = np.argsort(mmd2, kind="stable")[:k]
    if null is None:
        pvals = [None] * len(order)
    else:
        pvals = p_values(mmd2[order], null.shape, null.expected(index.counts[candidates[order]]))
    entries = []
    for rank, (i, p) in enumerate(zip(order, pvals), start=1):
        lid = index.ids[candidates[i]]
        fit = "" if p is None else (f"; p = {p:.3g} that your rows come from its distribution"
                                    + (" (below alpha: does not fit)" if p < alpha else ""))
        entries.append(RankedLearnware(
            learnware_id=lid, name=names.get(lid, lid), score=-float(mmd2[i]),
            reason=f"MMD^2 = {mmd2[i]:.4g} between your task's RKME and this learnware's (rank {rank} of {len(candidates)} scored){fit}",
            details={"mmd2": float(mmd2[i]), **({} if p is None else {"p_value": float(p)})},
        ))
    details = {"n_scored": int(len(candidates)), "n_indexed": len(index)}
    if null is not None:
        details.update(alpha=alpha, nothing_fits=bool(all(e.details["p_value"] < alpha for e in entries)),
                       null_shape=null.shape)
    return Ranking(entries, method="statistical", details=details)


def mixture_search(index: RKMEIndex, spec: RKMESpec, names: dict[str, str], max_learnwares: int = 5,
                   prefilter: int = DEFAULT_PREFILTER, pool: int = 10, min_improvement: float = 0.01,
                   null: NullModel | None = None, alpha: float = DEFAULT_ALPHA) -> Ranking:
    """Non-negative mixture of learnware RKMEs that best matches the task RKME.

    Minimises ``|| Phi_task - sum_i w_i Phi_i ||^2_H`` over ``w >= 0`` by greedy forward
    selection: at each step, add the candidate whose inclusion (with NNLS-refitted weights)
    lowers the residual MMD^2 most; stop at ``max_learnwares`` or when the relative
    improvement falls below ``min_improvement``. Weights are reported normalised to sum 1.
    Candidates: the ``pool`` learnwares with the smallest exact MMD among the prefiltered ones
    (the Gram matrix costs O((pool m)^2 d)). With a ``null`` model the mixture as a whole gets a
    p-value (its MMD^2 in the user's frame against the null with the mixture's sampling variance)
    and ``details["nothing_fits"]`` says whether it is below ``alpha``.
    """
    candidates = index.prefilter(spec, prefilter)
    candidates = candidates[np.argsort(index.mmd2(spec, candidates), kind="stable")[:pool]]
    G = index.gram(spec, candidates)
    h = index.inner_products(spec, candidates)
    qq = index.query_self_term(spec)
    chosen: list[int] = []
    weights = np.zeros(0)
    residual = qq
    while len(chosen) < min(max_learnwares, len(candidates)):
        best = None
        for j in range(len(candidates)):
            if j in chosen:
                continue
            trial = chosen + [j]
            w, res = _nnls_mixture(G[np.ix_(trial, trial)], h[trial], qq)
            if best is None or res < best[2]:
                best = (trial, w, res)
        if best is None or (chosen and residual - best[2] < min_improvement * residual):
            break
        chosen, weights, residual = best
    keep = weights > 0
    chosen = [c for c, k in zip(chosen, keep) if k]
    weights = weights[keep] / weights[keep].sum() if keep.any() else weights
    entries = [RankedLearnware(
        learnware_id=index.ids[candidates[c]], name=names.get(index.ids[candidates[c]], ""),
        score=float(w), weight=float(w),
        reason=f"weight {w:.3f} in the mixture of {len(chosen)} learnwares closest to your task (residual MMD^2 {residual:.4g})",
        details={"residual_mmd2": float(residual)},
    ) for c, w in sorted(zip(chosen, weights), key=lambda t: -t[1])]
    details = {"residual_mmd2": float(residual)}
    if null is not None and chosen:
        members = candidates[chosen]
        observed = max(float(qq - 2.0 * weights @ h[chosen] + weights @ G[np.ix_(chosen, chosen)] @ weights), 0.0)
        p = float(p_values(np.array([observed]), null.shape, mixture_expected(null, index.counts[members], weights))[0])
        details.update(p_value=p, alpha=alpha, nothing_fits=p < alpha)
    return Ranking(entries, method="mixture", details=details)


def _nnls_mixture(G: np.ndarray, h: np.ndarray, qq: float) -> tuple[np.ndarray, float]:
    """argmin_{w>=0} w'Gw - 2h'w + qq and its value, via NNLS on a Cholesky factor of G."""
    L = np.linalg.cholesky(G + 1e-10 * np.eye(len(G)))
    rhs = np.linalg.solve(L, h)
    w, _ = nnls(L.T, rhs)
    value = float(w @ G @ w - 2.0 * h @ w + qq)
    return w, max(value, 0.0)

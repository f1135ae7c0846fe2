"""Transferability metrics: how well a pretrained model's features or source head suit a labelled
target task, without fine-tuning. One module per metric; each docstring states the formula, the
paper, the reference implementation it was checked against, the sign convention and the cost.

:data:`METRICS` (a :class:`~modelreuse._registry.Registry`) names every variant; each metric
module registers its own variants with their ``kind``, ``higher_is_better`` and ``pool_relative``
(:mod:`._metric`). The names of the public fixtures
(``../shared/data/transferability/fixtures/public``) denote the canonical upstream
implementations' values, so e.g. ``gbc_spherical`` reproduces google's value while
``gbc_spherical_exact`` is the exact Bhattacharyya distance; ``leep`` is the paper's LEEP while
``leep_nolog_sfda`` is the different statistic SFDA/NCTI/EMMS publish under that name.

Inputs (``kind``): ``"features"`` metrics take ``(F, y)``, ``"probabilities"`` metrics
``(P, y)``, ``"regression"`` metrics ``(F, t)``; ``ncti_parts`` returns a triple that
:func:`~.ncti.ncti_pool_scores` turns into pool-relative scores. The metric functions themselves
(``logme``, ``leep``, ...) are importable from this package.
"""

from __future__ import annotations

from modelreuse.selection.transferability._metric import ALIASES, METRICS, InputKind, Metric, get_metric
from modelreuse.selection.transferability.gbc import gbc
from modelreuse.selection.transferability.hscore import h_score
from modelreuse.selection.transferability.knn import knn_accuracy
from modelreuse.selection.transferability.leep import leep
from modelreuse.selection.transferability.lfc import lfc
from modelreuse.selection.transferability.linear_probe import linear_probe_accuracy, probe_accuracy
from modelreuse.selection.transferability.logme import logme
from modelreuse.selection.transferability.nce import nce
from modelreuse.selection.transferability.ncti import ncti_parts, ncti_pool_scores
from modelreuse.selection.transferability.nleep import nleep
from modelreuse.selection.transferability.pactran import pactran_dirichlet
from modelreuse.selection.transferability.reg_hscore import regularized_h_score
from modelreuse.selection.transferability.sfda import sfda
from modelreuse.selection.transferability.transrate import transrate

_INPUTS = {"features": ("F", "y"), "probabilities": ("P", "y"), "regression": ("F", "t")}


def score_problem(arrays: dict, names: list[str] | None = None) -> dict:
    """Every applicable metric (or those in ``names``) on a problem stored like the fixtures:
    ``F`` features, ``y`` labels, ``P`` source probabilities, ``t`` regression targets. Metrics
    whose inputs are missing are skipped when ``names`` is None and an error otherwise."""
    chosen = [get_metric(n) for n in names] if names else [get_metric(n) for n in METRICS.names()]
    out = {}
    for metric in chosen:
        first, second = _INPUTS[metric.kind]
        if first not in arrays or second not in arrays:
            if names:
                raise KeyError(f"metric {metric.name} needs arrays {first!r} and {second!r}; the problem has {sorted(arrays)}")
            continue
        value = metric.fn(arrays[first], arrays[second])
        out[metric.name] = list(value) if isinstance(value, tuple) else value
    return out


__all__ = ["METRICS", "ALIASES", "InputKind", "Metric", "get_metric", "score_problem", "ncti_pool_scores", "gbc",
           "h_score", "knn_accuracy", "leep", "lfc", "linear_probe_accuracy", "logme", "ncti_parts", "nce", "nleep",
           "pactran_dirichlet", "probe_accuracy", "regularized_h_score", "sfda", "transrate"]

"""Transferability metrics: how well a pretrained model's features or source head suit a labelled
target task, without fine-tuning. One module per metric; each docstring states the formula, the
paper, the reference implementation it was checked against, the sign convention and the cost.

:data:`METRICS` names every variant. The names of the public fixtures
(``../shared/data/transferability/fixtures/public``) denote the canonical upstream
implementations' values, so e.g. ``gbc_spherical`` reproduces google's value while
``gbc_spherical_exact`` is the exact Bhattacharyya distance; ``leep`` is the paper's LEEP while
``leep_nolog_sfda`` is the different statistic SFDA/NCTI/EMMS publish under that name.

Inputs (``kind``): ``"features"`` metrics take ``(F, y)``, ``"probabilities"`` metrics
``(P, y)``, ``"regression"`` metrics ``(F, t)``; ``ncti_parts`` returns a triple that
:func:`~.ncti.ncti_pool_scores` turns into pool-relative scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from modelreuse.selection.transferability.gbc import gbc
from modelreuse.selection.transferability.hscore import h_score
from modelreuse.selection.transferability.knn import knn_accuracy
from modelreuse.selection.transferability.leep import leep
from modelreuse.selection.transferability.lfc import lfc
from modelreuse.selection.transferability.linear_probe import linear_probe_accuracy
from modelreuse.selection.transferability.logme import logme
from modelreuse.selection.transferability.nce import nce
from modelreuse.selection.transferability.ncti import ncti_parts, ncti_pool_scores
from modelreuse.selection.transferability.nleep import nleep
from modelreuse.selection.transferability.pactran import pactran_dirichlet
from modelreuse.selection.transferability.reg_hscore import regularized_h_score
from modelreuse.selection.transferability.sfda import sfda
from modelreuse.selection.transferability.transrate import transrate

InputKind = Literal["features", "probabilities", "regression"]


@dataclass(frozen=True)
class Metric:
    """A named metric variant: ``fn(first, second)`` with ``first`` = F or P and ``second`` = y or t."""

    name: str
    fn: Callable
    kind: InputKind
    higher_is_better: bool = True
    pool_relative: bool = False


def _metrics(*items: Metric) -> dict[str, Metric]:
    return {m.name: m for m in items}


METRICS: dict[str, Metric] = _metrics(
    Metric("hscore", h_score, "features"),
    Metric("reg_hscore", regularized_h_score, "features"),
    Metric("nce", nce, "probabilities"),
    Metric("leep", leep, "probabilities"),
    Metric("leep_nolog_sfda", partial(leep, log=False), "probabilities"),
    Metric("nleep", partial(nleep, float32_pipeline=True), "features"),
    Metric("nleep_float64", nleep, "features"),
    Metric("logme", lambda F, y: logme(F, y), "features"),
    Metric("logme_icml", lambda F, y: logme(F, y, variant="icml"), "features"),
    Metric("logme_tllib", lambda F, y: logme(F, y, variant="tllib"), "features"),
    Metric("logme_regression", lambda F, t: logme(F, t=t), "regression"),
    Metric("logme_regression_icml", lambda F, t: logme(F, t=t, variant="icml"), "regression"),
    Metric("logme_regression_tllib", lambda F, t: logme(F, t=t, variant="tllib"), "regression"),
    Metric("gbc_spherical", partial(gbc, gaussian="spherical", reference_spherical=True), "features"),
    Metric("gbc_spherical_exact", partial(gbc, gaussian="spherical"), "features"),
    Metric("gbc_diagonal", partial(gbc, gaussian="diagonal"), "features"),
    Metric("transrate", transrate, "features"),
    Metric("sfda", sfda, "features"),
    Metric("ncti_parts", ncti_parts, "features", pool_relative=True),
    Metric("pactran_dir", pactran_dirichlet, "probabilities", higher_is_better=False),
    Metric("lfc", lfc, "features"),
    Metric("knn_accuracy", knn_accuracy, "features"),
    Metric("linear_probe_accuracy", linear_probe_accuracy, "features"),
)

#: Short names for selection: the paper's quantity, our default variant of each.
ALIASES = {"gbc": "gbc_spherical_exact", "pactran": "pactran_dir", "ncti": "ncti_parts", "knn": "knn_accuracy",
           "linear_probe": "linear_probe_accuracy", "h_score": "hscore"}


def get_metric(name: str) -> Metric:
    """The metric called ``name`` (or one of :data:`ALIASES`); ``KeyError`` lists the choices."""
    key = ALIASES.get(name, name)
    if key not in METRICS:
        raise KeyError(f"unknown transferability metric {name!r}; choose from {sorted(METRICS) + sorted(ALIASES)}")
    return METRICS[key]


def score_problem(arrays: dict, names: list[str] | None = None) -> dict:
    """Every applicable metric (or those in ``names``) on a problem stored like the fixtures:
    ``F`` features, ``y`` labels, ``P`` source probabilities, ``t`` regression targets. Metrics
    whose inputs are missing are skipped when ``names`` is None and an error otherwise."""
    needs = {"features": ("F", "y"), "probabilities": ("P", "y"), "regression": ("F", "t")}
    chosen = [get_metric(n) for n in names] if names else list(METRICS.values())
    out = {}
    for metric in chosen:
        first, second = needs[metric.kind]
        if first not in arrays or second not in arrays:
            if names:
                raise KeyError(f"metric {metric.name} needs arrays {first!r} and {second!r}; the problem has {sorted(arrays)}")
            continue
        value = metric.fn(arrays[first], arrays[second])
        out[metric.name] = list(value) if isinstance(value, tuple) else value
    return out


__all__ = ["METRICS", "ALIASES", "Metric", "get_metric", "score_problem", "ncti_pool_scores", "gbc", "h_score",
           "knn_accuracy", "leep", "lfc", "linear_probe_accuracy", "logme", "ncti_parts", "nce", "nleep",
           "pactran_dirichlet", "regularized_h_score", "sfda", "transrate"]

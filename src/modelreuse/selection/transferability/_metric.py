"""The transferability-metric registry and the :class:`Metric` record :func:`get_metric` returns.

Every metric module registers its variants in its own file::

    @METRICS.register("leep", kind="probabilities", higher_is_better=True, pool_relative=False)
    def leep(P, y, log=True): ...

Metadata (every entry states all three): ``kind`` -- ``"features"`` metrics take ``(F, y)``,
``"probabilities"`` metrics ``(P, y)``, ``"regression"`` metrics ``(F, t)``; ``higher_is_better``
-- the raw value's orientation; ``pool_relative`` -- the value is a per-model part that only
becomes a score relative to the other candidates (NCTI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from modelreuse._registry import Registry

InputKind = Literal["features", "probabilities", "regression"]

METRICS: Registry[Callable] = Registry("transferability metric", package="modelreuse.selection.transferability")

#: Short names for selection: the paper's quantity, our default variant of each.
ALIASES = {"gbc": "gbc_spherical_exact", "pactran": "pactran_dir", "ncti": "ncti_parts", "knn": "knn_accuracy",
           "linear_probe": "linear_probe_accuracy", "h_score": "hscore"}


@dataclass(frozen=True)
class Metric:
    """A named metric variant: ``fn(first, second)`` with ``first`` = F or P and ``second`` = y or t."""

    name: str
    fn: Callable
    kind: InputKind
    higher_is_better: bool = True
    pool_relative: bool = False


def get_metric(name: str) -> Metric:
    """The metric registered as ``name`` (or one of :data:`ALIASES`); an unknown name raises
    :class:`~modelreuse.errors.UnknownNameError` listing the registered names."""
    entry = METRICS.entry(ALIASES.get(name, name))
    return Metric(entry.name, entry.obj, **entry.metadata)

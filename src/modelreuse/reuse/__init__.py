"""Reusers: turn selected learnwares (+ the user's rows) into a fitted predictor.

One module per reuser, each registered in :data:`modelreuse.reuse.base.REUSERS` by one decorator
line; :class:`~modelreuse.reuse.auto.AutoReuser` picks one for the user's rows. Importing this
package loads nothing: the registry and the classes are imported when first used
(``from modelreuse.reuse import REUSERS, AveragingReuser``).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "REUSERS": "modelreuse.reuse.base",
    "ReuserBase": "modelreuse.reuse.base",
    "AutoReuser": "modelreuse.reuse.auto",
    "Candidate": "modelreuse.reuse.auto",
    "AveragingReuser": "modelreuse.reuse.averaging",
    "EnsemblePruningReuser": "modelreuse.reuse.pruning",
    "FeatureAugmentReuser": "modelreuse.reuse.feature_augment",
    "JobSelectorReuser": "modelreuse.reuse.job_selector",
    "EXTRACTOR_REUSERS": "modelreuse.reuse.base",
    "LinearProbeReuser": "modelreuse.reuse.linear_probe",
    "ConcatProbeReuser": "modelreuse.reuse.concat_probe",
    "ProbeEnsembleReuser": "modelreuse.reuse.probe_ensemble",
    "SingleReuser": "modelreuse.reuse.single",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'modelreuse.reuse' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
